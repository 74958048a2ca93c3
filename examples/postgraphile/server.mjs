// PostGraphile 5 (amber preset, simplified inflection) over Subreg's PostgreSQL tables, for
// examples/reads.rs: `node server.mjs <database URL> <port>`. No GraphiQL, no watch mode, no
// explain; introspection at start, then the same HTTP server a deployment would run.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";

const [connectionString, port] = process.argv.slice(2);
const preset = {
  extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
  pgServices: [makePgService({ connectionString, schemas: ["public"] })],
  grafserv: { port: Number(port), graphiql: false, watch: false },
  grafast: { explain: false },
};
const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
serv.addTo(server).then(() => server.listen(Number(port), "127.0.0.1"));
