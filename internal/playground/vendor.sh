#!/usr/bin/env bash
# vendor.sh re-downloads the playground's third-party files from the npm
# registry at exactly the versions below and copies them into assets/.
#
#   internal/playground/vendor.sh        # then: git diff internal/playground/assets
#
# Needs node and npm. Only the files the browser loads are kept: GraphiQL's UMD
# bundle and stylesheet (GraphiQL 3 is the last major that ships a UMD build;
# 4 and later are ESM-only and would need a bundler) and React 18's UMD
# production builds, which that bundle expects as the globals React and
# ReactDOM. Each package's LICENSE goes to assets/licenses/, and so do the
# notices of the packages compiled into graphiql.min.js (read from its source
# map), in assets/licenses/graphiql-bundled.txt.
set -euo pipefail

GRAPHIQL_VERSION=3.9.0
REACT_VERSION=18.3.1

# Compiled into graphiql.min.js but not installed with graphiql@3.9.0 (they
# were build-time versions in GraphiQL's monorepo): fetched for their license
# text only.
LICENSE_ONLY=(
	@babel/runtime@7.29.15
	@radix-ui/react-use-escape-keydown@1.1.6
	graphql-ws@5.16.2
)

here=$(cd "$(dirname "$0")" && pwd)
assets=$here/assets
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
cat >package.json <<EOF
{
  "name": "memberbind-playground-vendor",
  "private": true,
  "dependencies": {
    "graphiql": "$GRAPHIQL_VERSION",
    "react": "$REACT_VERSION",
    "react-dom": "$REACT_VERSION"
  }
}
EOF
npm install --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
mkdir extra
(cd extra && for p in "${LICENSE_ONLY[@]}"; do
	npm pack --silent "$p" >/dev/null
done && for t in *.tgz; do
	mkdir "${t%.tgz}" && tar -xzf "$t" -C "${t%.tgz}" --strip-components=1
done)

for p in graphiql:$GRAPHIQL_VERSION react:$REACT_VERSION react-dom:$REACT_VERSION; do
	got=$(node -p "require('./node_modules/${p%%:*}/package.json').version")
	if [ "$got" != "${p#*:}" ]; then
		echo "vendor.sh: npm installed ${p%%:*}@$got, want ${p#*:}" >&2
		exit 1
	fi
done

mkdir -p "$assets/licenses"
cp node_modules/graphiql/graphiql.min.js node_modules/graphiql/graphiql.min.css "$assets/"
cp node_modules/react/umd/react.production.min.js "$assets/"
cp node_modules/react-dom/umd/react-dom.production.min.js "$assets/"
cp node_modules/graphiql/LICENSE "$assets/licenses/graphiql.LICENSE"
cp node_modules/react/LICENSE "$assets/licenses/react.LICENSE"
cp node_modules/react-dom/LICENSE "$assets/licenses/react-dom.LICENSE"

node - "$GRAPHIQL_VERSION" >"$assets/licenses/graphiql-bundled.txt" <<'EOF'
// Lists every npm package whose code the source map says is inside
// graphiql.min.js, with its license text.
const fs = require('fs');
const path = require('path');
const map = JSON.parse(fs.readFileSync('node_modules/graphiql/graphiql.min.js.map', 'utf8'));
const names = new Set();
for (const src of map.sources) {
  const i = src.lastIndexOf('node_modules/');
  if (i >= 0) {
    const parts = src.slice(i + 'node_modules/'.length).split('/');
    names.add(parts[0].startsWith('@') ? parts[0] + '/' + parts[1] : parts[0]);
    continue;
  }
  // GraphiQL's own workspace packages, compiled from ../../<dir>/.
  const ws = {
    'graphiql-react': '@graphiql/react',
    'graphiql-toolkit': '@graphiql/toolkit',
    'codemirror-graphql': 'codemirror-graphql',
    'graphql-language-service': 'graphql-language-service',
  }[src.split('/')[2]];
  if (ws) names.add(ws);
}
function locate(name) {
  if (fs.existsSync(path.join('node_modules', name, 'package.json'))) return path.join('node_modules', name);
  for (const d of fs.readdirSync('extra')) {
    const dir = path.join('extra', d);
    if (fs.statSync(dir).isDirectory() && require('./' + path.join(dir, 'package.json')).name === name) return dir;
  }
  throw new Error('vendor.sh: no package ' + name + ' to read its license from');
}
const out = [
  'Third-party code compiled into graphiql.min.js (graphiql@' + process.argv[2] + '),',
  'as listed by its source map, with the license of each package at the',
  'version npm resolves for graphiql@' + process.argv[2] + '.',
  '',
];
for (const name of [...names].sort()) {
  const dir = locate(name);
  const pkg = require('./' + path.join(dir, 'package.json'));
  const file = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
  out.push('='.repeat(72), name + '@' + pkg.version + ' (' + (pkg.license || 'see package') + ')', '='.repeat(72), '');
  if (file) {
    out.push(fs.readFileSync(path.join(dir, file), 'utf8').replace(/\r\n/g, '\n').trimEnd());
  } else {
    const author = typeof pkg.author === 'string' ? pkg.author : pkg.author && pkg.author.name;
    out.push('The package ships no license file; its package.json declares license ' + pkg.license +
      (author ? ', author ' + author : '') + '.');
  }
  out.push('');
}
process.stdout.write(out.join('\n'));
EOF

echo "vendored graphiql@$GRAPHIQL_VERSION, react@$REACT_VERSION, react-dom@$REACT_VERSION into $assets"
