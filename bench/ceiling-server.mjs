// The ceiling: a bare Express 5 app on the same Node, answering a small JSON body shaped like the
// API's envelope. Plain JavaScript and no middleware, so nothing but Express and node:http is measured.
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.get('/ceiling', (_req, res) => {
  res.json({ success: true, message: 'ok', data: { status: 'ok' }, timestamp: new Date().toISOString(), statusCode: 200 });
});
const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
