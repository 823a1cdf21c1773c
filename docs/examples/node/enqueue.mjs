// A Node service enqueueing a job for the ILS workers (docs/examples.md shows it): by queue name,
// job name and the payload's camelCase fields, as the job types' reference lists them. A job
// of a company carries the company in its data and is written into the company's job index
// first, so the company's admins see it in their dashboard (ILS's own producer does the same).
// Usage: node enqueue.mjs '{"url": "redis://...", "prefix": "bull", "company": 7}'
// Prints {"jobId": ...} on stdout.
import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import IORedis from "ioredis";

const { url, prefix, company } = JSON.parse(process.argv[2]);
const connection = new IORedis(url, { maxRetriesPerRequest: null });
const queue = new Queue("oma", { connection, prefix });

const jobId = randomUUID().replaceAll("-", "");
await connection.zadd(`${prefix}:ils:company:${company}:oma`, Date.now(), jobId);
const job = await queue.add(
  "example-lens-label",
  { orderNumber: "N-2001", eye: "L", _ilsCompany: company },
  { jobId, attempts: 3, backoff: { type: "exponential", delay: 1000 } },
);
console.log(JSON.stringify({ jobId: job.id }));
await queue.close();
await connection.quit();
