// Auth.js v5 (@auth/core) and next-auth v4 behind Node's http server, for
// the Go interoperability test (format/authjs/authjs_test.go). Configured
// from the environment:
//   SECRETS  the secrets, comma-separated, newest first (v4: the first only)
//   COOKIE   the session cookie name
//   MAXAGE   session.maxAge in seconds (default 30 days)
//   VERSION  5 or 4 (default 5)
//   OFFSET   milliseconds added to the clock, to issue or read as if later or earlier
// It prints its port and serves:
//   v5  GET /login?user=U&claims=OBJECT  signs in through Auth.js's credentials
//                                         provider; the jwt callback adds the claims
//       GET /session                     Auth.js's session endpoint; answers
//                                         {"session": ..., "token": the claims}
//       GET /gcm?claims=OBJECT           answers {"token": a token as Auth.js encrypts it
//                                         but with A256GCM, which its decode also reads,
//                                         "decoded": what @auth/core/jwt's decode reads of it}
//   v4  GET /encode?claims=OBJECT        answers {"token": next-auth/jwt encode()}
//       GET /token                       answers {"token": getToken()'s claims or null}
'use strict';
import http from 'node:http';

const offset = Number(process.env.OFFSET || 0);
if (offset) {
  const RealDate = Date;
  globalThis.Date = class extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + offset);
      else super(...args);
    }
    static now() { return RealDate.now() + offset; }
  };
}

const secrets = (process.env.SECRETS || '').split(',');
const cookieName = process.env.COOKIE || 'authjs.session-token';
const maxAge = process.env.MAXAGE ? Number(process.env.MAXAGE) : 30 * 24 * 3600;
const version = process.env.VERSION || '5';
const base = 'http://localhost:3000';

function cookieHeader(setCookies, previous) {
  const jar = new Map((previous || '').split(/;\s*/).filter(Boolean).map((c) => c.split(/=(.*)/s).slice(0, 2)));
  for (const line of setCookies) {
    const [pair] = line.split(';');
    const [name, value] = pair.split(/=(.*)/s);
    if (value === '') jar.delete(name); else jar.set(name, value);
  }
  return [...jar].map(([n, v]) => `${n}=${v}`).join('; ');
}

async function v5(url, req, res) {
  const { Auth } = await import('@auth/core');
  const { default: Credentials } = await import('@auth/core/providers/credentials');
  const config = {
    secret: secrets,
    trustHost: true,
    basePath: '/auth',
    session: { strategy: 'jwt', maxAge },
    // One line for each refused token, which the tests provoke on purpose.
    logger: { error: (e) => console.error(`[auth] ${e.name}: ${e.cause?.err?.message ?? e.message}`) },
    cookies: { sessionToken: { name: cookieName, options: { httpOnly: true, sameSite: 'lax', path: '/', secure: false } } },
    providers: [Credentials({
      credentials: { username: {}, claims: {} },
      authorize: async (c) => ({ id: 'user-' + c.username, name: c.username, email: c.username + '@example.com', claims: c.claims }),
    })],
    callbacks: {
      jwt: async ({ token, user }) => (user ? { ...token, ...JSON.parse(user.claims || '{}') } : token),
      session: async ({ session, token }) => ({ ...session, token }),
    },
  };
  if (url.pathname === '/login') {
    let r = await Auth(new Request(base + '/auth/csrf'), config);
    const { csrfToken } = await r.json();
    const jar = cookieHeader(r.headers.getSetCookie());
    r = await Auth(new Request(base + '/auth/callback/credentials', {
      method: 'POST',
      headers: { cookie: jar, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrfToken, username: url.searchParams.get('user') || 'ada', claims: url.searchParams.get('claims') || '{}' }),
    }), config);
    res.setHeader('Set-Cookie', r.headers.getSetCookie().filter((c) => c.startsWith(cookieName)));
    return { status: r.status };
  }
  if (url.pathname === '/gcm') {
    // Auth.js's own key derivation for a 32-byte key, and jose, which
    // Auth.js encrypts with.
    const { default: hkdf } = await import('@panva/hkdf');
    const { EncryptJWT } = await import('jose');
    const { decode } = await import('@auth/core/jwt');
    const key = await hkdf('sha256', secrets[0], cookieName, `Auth.js Generated Encryption Key (${cookieName})`, 32);
    const token = await new EncryptJWT(JSON.parse(url.searchParams.get('claims') || '{}'))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + maxAge)
      .setJti(crypto.randomUUID())
      .encrypt(key);
    return { token, decoded: await decode({ token, secret: secrets, salt: cookieName }) };
  }
  if (url.pathname === '/session') {
    const r = await Auth(new Request(base + '/auth/session', { headers: { cookie: req.headers.cookie || '' } }), config);
    res.setHeader('Set-Cookie', r.headers.getSetCookie());
    const session = await r.json();
    return { session, token: session && session.token };
  }
  return null;
}

async function v4(url, req) {
  const { encode, getToken } = await import('next-auth/jwt');
  if (url.pathname === '/encode') {
    return { token: await encode({ token: JSON.parse(url.searchParams.get('claims') || '{}'), secret: secrets[0], maxAge }) };
  }
  if (url.pathname === '/token') {
    const cookies = Object.fromEntries((req.headers.cookie || '').split(/;\s*/).filter(Boolean).map((c) => c.split(/=(.*)/s).slice(0, 2)));
    return { token: await getToken({ req: { headers: req.headers, cookies }, secret: secrets[0], cookieName }) };
  }
  return null;
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, base);
    const body = await (version === '4' ? v4(url, req) : v5(url, req, res));
    if (body === null) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(body));
  } catch (err) {
    res.statusCode = 500;
    res.end(String(err && err.stack));
  }
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
