// A webhook receiver for ILS in Node: it verifies each request's Standard Webhooks signature with
// the `standardwebhooks` npm package, processes each event once (the `webhook-id` is the event
// id, the same on every retry and replay), and answers 204; a bad signature gets 401.
//
// Run it with the endpoint's secret: `WEBHOOK_SECRET=whsec_... node webhook_receiver.cjs 8080`
// (port 0: any free port). It prints `listening <port>`, then `<type> <id>` per new event.
const http = require("node:http");
const { Webhook } = require("standardwebhooks");

const webhook = new Webhook(process.env.WEBHOOK_SECRET);
const seen = new Set(); // keep these in your database: a restart must not forget them

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    let event;
    try {
      // the raw body, exactly as received: the signature covers its bytes
      event = webhook.verify(Buffer.concat(chunks).toString("utf8"), req.headers);
    } catch (err) {
      res.writeHead(401).end();
      return;
    }
    if (!seen.has(event.id)) {
      seen.add(event.id);
      console.log(`${event.type} ${event.id}`);
    }
    res.writeHead(204).end();
  });
});

server.listen(Number(process.argv[2] ?? 8080), "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
