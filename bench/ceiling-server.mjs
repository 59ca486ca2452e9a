// The ceiling: a bare Express 5 app on the same Node, answering a small JSON body shaped like the
// API's envelope. Plain JavaScript and no middleware, so nothing but Express and node:http is measured.
// With CEILING_SERVER=prototypes the same app is served by the API's createHttpServer (requests and
// responses created on the app's prototypes): what this stack reaches when served as the API is.
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.get('/ceiling', (_req, res) => {
  res.json({ success: true, message: 'ok', data: { status: 'ok' }, timestamp: new Date().toISOString(), statusCode: 200 });
});
const port = Number(process.env.PORT);
const ready = () => console.log('ready');
let server;
if (process.env.CEILING_SERVER === 'prototypes') {
  const { createHttpServer } = await import('../dist/src/lib/http/server.js');
  server = createHttpServer(app).listen(port, '127.0.0.1', ready);
} else {
  server = app.listen(port, '127.0.0.1', ready);
}
process.on('SIGTERM', () => server.close(() => process.exit(0)));
