// The Node application the Go service moves routes out of: its login lives
// in an iron-session cookie, as in a Next.js app (getIronSession works the
// same in a route handler). The Go service must be configured alike: the
// cookie name, the password and the ttl below.
//
//   GET /login?name=N  signs in as N
//   GET /profile       shows who is signed in and counts the visit
//   GET /logout        signs out
//
// SESSION_PASSWORD is the password (32 characters or more); it prints the
// port it listens on (PORT, or any free one) on 127.0.0.1.
import http from 'node:http';
import { getIronSession } from 'iron-session';

export const sessionOptions = {
  cookieName: 'app_session',
  password: process.env.SESSION_PASSWORD,
  ttl: 14 * 24 * 3600,
};

function page(res, text) {
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><title>Node</title><p id="out">${text.replace(/[<&]/g, (c) => (c === '<' ? '&lt;' : '&amp;'))}</p>`);
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const session = await getIronSession(req, res, sessionOptions);
  switch (url.pathname) {
    case '/login':
      session.user = { name: url.searchParams.get('name') || 'anonymous' };
      session.visits = 0;
      await session.save();
      return page(res, `Node: signed in as ${session.user.name}`);
    case '/profile':
      if (!session.user) return page(res, 'Node: not signed in');
      session.visits = (session.visits || 0) + 1;
      await session.save();
      return page(res, `Node: ${session.user.name}, ${session.visits} visits`);
    case '/logout':
      session.destroy();
      return page(res, 'Node: signed out');
    default:
      res.statusCode = 404;
      return page(res, 'Node: not found');
  }
});
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => console.log(server.address().port));
