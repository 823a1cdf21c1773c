// A Node BullMQ worker taking the jobs the Python producer added (the lean single add and the
// bulk add of ils.queue.engine_add), as the ILS's Node code would: it runs `count` jobs of one
// queue and prints what each looked like to it.
// Usage: node consume.mjs '{"url": ..., "prefix": ..., "queue": "oma", "count": 3}'
// Prints [{"id", "name", "data", "attempts", "priority", "delay"}, ...] in the order run.
import { Worker } from "bullmq";
import IORedis from "ioredis";

const args = JSON.parse(process.argv[2]);
const connection = new IORedis(args.url, { maxRetriesPerRequest: null });
const seen = [];
let finish;
const done = new Promise((resolve) => { finish = resolve; });
const worker = new Worker(
  args.queue,
  async (job) => {
    seen.push({
      id: job.id, name: job.name, data: job.data, attempts: job.opts.attempts,
      priority: job.opts.priority ?? 0, delay: job.opts.delay ?? 0,
    });
    if (seen.length === args.count) finish();
    return { ranBy: "node" };
  },
  { connection, prefix: args.prefix, concurrency: 1 },
);
const timer = setTimeout(() => { console.error(`only ${seen.length} jobs in 30 s`); process.exit(2); }, 30000);
await done;
clearTimeout(timer);
await worker.close();
await connection.quit();
console.log(JSON.stringify(seen));
