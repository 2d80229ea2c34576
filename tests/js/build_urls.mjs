// Reads {cases: [{cdn, props}]} as JSON on stdin and prints, per case, the
// props @unpic/core would render (src, srcset, sizes, width, height, style).
import { transformProps } from "@unpic/core";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).cases.map(({ cdn, props }) => transformProps({ cdn, ...props }));
process.stdout.write(JSON.stringify(out));
