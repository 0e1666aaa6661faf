// iron-session behind Node's http server, for the Go interoperability test
// (format/iron/iron_test.go). Configured from the environment:
//   PASSWORD  iron-session's password: a string, or a JSON map {"2": "...", "1": "..."}
//   COOKIE    the cookie name
//   TTL       iron-session's ttl in seconds (default 14 days)
//   VERSION   8 or 9 (default 9)
//   CHUNK     "1" for iron-session 9's chunk: true
//   OFFSET    milliseconds added to the clock, to seal or read as if later or earlier
// It prints its port and serves:
//   GET /set?json=OBJECT  merges the JSON object into the session and saves it
//   GET /get              answers the session as JSON ({} when none)
//   GET /destroy          destroys the session
// Every answer carries X-Unseal-Error when iron-session 9 refused the cookie.
import http from 'node:http';
import { getIronSession as get9 } from 'iron-session';
import { getIronSession as get8 } from 'iron-session-8';

const offset = Number(process.env.OFFSET || 0);
if (offset) {
  const now = Date.now;
  Date.now = () => now() + offset;
}

const raw = process.env.PASSWORD || '';
const password = raw.startsWith('{') ? JSON.parse(raw) : raw;
const options = {
  cookieName: process.env.COOKIE || 'session',
  password,
  ttl: process.env.TTL ? Number(process.env.TTL) : undefined,
  cookieOptions: { secure: false },
};
if (options.ttl === undefined) delete options.ttl;
const version = process.env.VERSION || '9';
if (version === '9' && process.env.CHUNK === '1') options.chunk = true;
const getIronSession = version === '8' ? get8 : get9;

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://localhost');
    const session = await getIronSession(req, res, {
      ...options,
      onUnsealError: (kind) => res.setHeader('X-Unseal-Error', kind),
    });
    if (url.pathname === '/set') {
      Object.assign(session, JSON.parse(url.searchParams.get('json') || '{}'));
      await session.save();
    } else if (url.pathname === '/destroy') {
      session.destroy();
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ ...session }));
  } catch (err) {
    res.statusCode = 500;
    res.end(String(err && err.message));
  }
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
