import postgres from "postgres"
const sql = postgres({ onnotice: () => {}, max: 1 })
const s = `stm_${Date.now().toString(36)}`
await sql.unsafe(`CREATE SCHEMA ${s}; CREATE TABLE ${s}.w (id text primary key, epoch int, status text, pad text);
CREATE TABLE ${s}.st (workflow_id text, step_id int, output text, state text, primary key (workflow_id, step_id));
CREATE TABLE ${s}.plain (id bigserial primary key, output text)`)
const payload = JSON.stringify({ orderId: "ord_01JBX6Q8W7ZK3M", amount: 4200, currency: "EUR", status: "charged", note: "x".repeat(64) })
const variants: Record<string, (wf: string, i: number) => Promise<unknown>> = {
  insert: (wf, i) => sql.unsafe(`INSERT INTO ${s}.plain (output) VALUES ($1)`, [payload], { prepare: true }),
  upsertNoLock: (wf, i) => sql.unsafe(`WITH owner AS MATERIALIZED (SELECT id, epoch, status FROM ${s}.w WHERE id = $1)
    INSERT INTO ${s}.st SELECT id, $3, $4, 'done' FROM owner WHERE owner.epoch = $2 AND owner.status = 'PENDING'
    ON CONFLICT (workflow_id, step_id) DO UPDATE SET output = EXCLUDED.output WHERE st.state = 'pending' RETURNING step_id`, [wf, 1, i, payload], { prepare: true }),
  upsertShare: (wf, i) => sql.unsafe(`WITH owner AS MATERIALIZED (SELECT id, epoch, status FROM ${s}.w WHERE id = $1 FOR SHARE)
    INSERT INTO ${s}.st SELECT id, $3, $4, 'done' FROM owner WHERE owner.epoch = $2 AND owner.status = 'PENDING'
    ON CONFLICT (workflow_id, step_id) DO UPDATE SET output = EXCLUDED.output WHERE st.state = 'pending' RETURNING step_id`, [wf, 1, i, payload], { prepare: true }),
  upsertKeyShare: (wf, i) => sql.unsafe(`WITH owner AS MATERIALIZED (SELECT id, epoch, status FROM ${s}.w WHERE id = $1 FOR KEY SHARE)
    INSERT INTO ${s}.st SELECT id, $3, $4, 'done' FROM owner WHERE owner.epoch = $2 AND owner.status = 'PENDING'
    ON CONFLICT (workflow_id, step_id) DO UPDATE SET output = EXCLUDED.output WHERE st.state = 'pending' RETURNING step_id`, [wf, 1, i, payload], { prepare: true }),
  insertNoConflict: (wf, i) => sql.unsafe(`WITH owner AS MATERIALIZED (SELECT id, epoch, status FROM ${s}.w WHERE id = $1 FOR SHARE)
    INSERT INTO ${s}.st SELECT id, $3, $4, 'done' FROM owner WHERE owner.epoch = $2 AND owner.status = 'PENDING' RETURNING step_id`, [wf, 1, i, payload], { prepare: true }),
}
let wfn = 0
const newWf = async () => { const id = `wf-${wfn++}`; await sql.unsafe(`INSERT INTO ${s}.w VALUES ($1, 1, 'PENDING', $2)`, [id, "p".repeat(300)]); return id }
const totals: Record<string, number[]> = {}
for (let round = 0; round < 12; round++) {
  for (const [name, fn] of Object.entries(variants)) {
    const wf = await newWf()
    const t0 = performance.now()
    for (let i = 0; i < 300; i++) await fn(wf, i)
    ;(totals[name] ??= []).push((performance.now() - t0) / 300)
  }
}
for (const [name, xs] of Object.entries(totals)) { xs.sort((a, b) => a - b); console.log(name.padEnd(18), "median", xs[6]!.toFixed(3), "ms  min", xs[0]!.toFixed(3)) }
await sql.unsafe(`DROP SCHEMA ${s} CASCADE`); await sql.end()
