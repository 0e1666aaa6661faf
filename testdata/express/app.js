// An Express app with cookie-session, for the Go interoperability test
// (express_test.go). Keys come from KEYS (comma-separated, newest first);
// the app prints its port and serves:
//   GET /set?message=M  sets session.message
//   GET /get            answers the session as JSON ({} when none)
'use strict';
const express = require('express');
const cookieSession = require('cookie-session');

const app = express();
app.use(cookieSession({ name: 'session', keys: (process.env.KEYS || '').split(',') }));
app.get('/set', (req, res) => {
  req.session.message = req.query.message;
  res.json(req.session);
});
app.get('/get', (req, res) => {
  res.json(req.session || {});
});
const server = app.listen(0, '127.0.0.1', () => {
  console.log(server.address().port);
});
