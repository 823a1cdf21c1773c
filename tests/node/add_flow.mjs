// A Node BullMQ producer adding a flow for the Python workers, as the ILS's Node code would:
// the company stamped in each job's data and written into its company's index first (see
// ils.queue.tenancy), camelCase data, the job names of the Python declarations.
// Usage: node add_flow.mjs '{"url": ..., "prefix": ..., "company": 7, "parentId": "..."}'
// Prints {"parent": <job id>, "children": [<job id>, ...]} on stdout.
import { FlowProducer } from "bullmq";
import IORedis from "ioredis";

const args = JSON.parse(process.argv[2]);
const connection = new IORedis(args.url, { maxRetriesPerRequest: null });
const stamp = { _ilsCompany: args.company };
const child = (queueName, tag, id, failParent) => ({
  name: "test-probe",
  queueName,
  data: { tag, ...stamp },
  opts: { jobId: id, failParentOnFailure: failParent },
});
const flow = {
  name: "test-parent",
  queueName: "oma",
  data: { tag: "node-parent", ...stamp },
  opts: { jobId: args.parentId },
  children: [
    child("oma", "node-oma", `${args.parentId}-oma`, true),
    child("pdf", "node-pdf", `${args.parentId}-pdf`, true),
  ],
};
const now = Date.now();
for (const node of [flow, ...flow.children]) {
  const index = `${args.prefix}:ils:company:${args.company}:${node.queueName}`;
  await connection.zadd(index, now, node.opts.jobId);
}
const producer = new FlowProducer({ connection, prefix: args.prefix });
const added = await producer.add(flow);
console.log(JSON.stringify({ parent: added.job.id, children: added.children.map((c) => c.job.id) }));
await producer.close();
await connection.quit();
