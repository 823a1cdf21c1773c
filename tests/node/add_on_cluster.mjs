// A Node BullMQ producer on a Redis Cluster, as docs/deployment.md tells one to be: an ioredis
// Cluster client, the queue's hash-tagged prefix ("<prefix>:{<tag>}"), and the company's job
// written into its index under that prefix first (see ils.queue.tenancy).
// Usage: node add_on_cluster.mjs '{"host": ..., "port": ..., "prefix": "p:{oma}", "queue": "oma",
//                                  "company": 7, "jobId": "..."}'
// Prints {"id": <job id>} on stdout.
import { Queue } from "bullmq";
import IORedis from "ioredis";

const args = JSON.parse(process.argv[2]);
const connection = new IORedis.Cluster([{ host: args.host, port: args.port }], {
  redisOptions: { maxRetriesPerRequest: null },
});
const index = `${args.prefix}:ils:company:${args.company}:${args.queue}`;
await connection.zadd(index, Date.now(), args.jobId);
const queue = new Queue(args.queue, { connection, prefix: args.prefix });
const job = await queue.add("test-probe", { tag: "node-cluster", _ilsCompany: args.company },
  { jobId: args.jobId });
console.log(JSON.stringify({ id: job.id }));
await queue.close();
await connection.quit();
