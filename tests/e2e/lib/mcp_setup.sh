# Source after tests/support/e2e.sh: installs the pinned MCP packages of
# tests/mcp/package.json into $VENOM_BUILD/mcp-npm (once; reused while the
# package.json is unchanged) and sets MCP_NM to its node_modules. Without
# node or npm the test is skipped (exit 77, ctest SKIP_RETURN_CODE).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node and npm are needed for the MCP tests (apt-get install nodejs npm)"
  exit 77
fi
MCP_NPM="$VENOM_BUILD/mcp-npm"
MCP_NM="$MCP_NPM/node_modules"
mcp_current() { cmp -s "$VENOM_SRC/tests/mcp/package.json" "$MCP_NPM/package.json" && [ -x "$MCP_NM/.bin/mcp-server-everything" ]; }
mcp_install() {
  mcp_current && return 0
  mkdir -p "$MCP_NPM"
  (
    flock 9
    if ! mcp_current; then
      cp "$VENOM_SRC/tests/mcp/package.json" "$MCP_NPM/package.json"
      if ! timeout 600 npm install --prefix "$MCP_NPM" --no-audit --no-fund --loglevel=error >"$MCP_NPM/install.log" 2>&1; then
        echo "npm install failed (see $MCP_NPM/install.log):"; tail -5 "$MCP_NPM/install.log"
        rm -f "$MCP_NPM/package.json"
        exit 1
      fi
    fi
  ) 9>"$VENOM_BUILD/mcp-npm.lock"
}
mcp_install
# the unprivileged CI run reads the packages from the build tree
chmod -R a+rX "$MCP_NPM" 2>/dev/null || true
