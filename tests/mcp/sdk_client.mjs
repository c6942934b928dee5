// A third-party MCP client for `venom mcp serve`: the official TypeScript
// SDK (Client + StdioClientTransport). Usage:
//   node sdk_client.mjs NODE_MODULES VENOM_BIN [serve args...]
// Prints one JSON object: the tools it listed, a call's result and an
// error call's result.
const [nm, venom, ...serveArgs] = process.argv.slice(2);
const { Client } = await import(`${nm}/@modelcontextprotocol/sdk/dist/esm/client/index.js`);
const { StdioClientTransport } = await import(`${nm}/@modelcontextprotocol/sdk/dist/esm/client/stdio.js`);

const transport = new StdioClientTransport({
  command: venom,
  args: ["mcp", "serve", ...serveArgs],
  env: process.env,
  stderr: "pipe",
});
const client = new Client({ name: "venom-e2e", version: "1.0.0" });
await client.connect(transport);
const out = { server: client.getServerVersion(), protocol: transport._protocolVersion ?? null };
const listed = await client.listTools();
out.tools = listed.tools.map((t) => ({ name: t.name, type: t.inputSchema?.type }));
out.call = await client.callTool({ name: process.env.CALL_TOOL, arguments: JSON.parse(process.env.CALL_ARGS) });
out.bad = await client.callTool({ name: process.env.CALL_TOOL, arguments: JSON.parse(process.env.BAD_ARGS) });
try {
  await client.callTool({ name: "no__such_tool", arguments: {} });
  out.unknown = "no error";
} catch (e) {
  out.unknown = { code: e.code, message: String(e.message) };
}
out.ping = await client.ping();
await client.close();
console.log(JSON.stringify(out));
