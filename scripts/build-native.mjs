// Builds the libtorch addon (native/*.cc → native/build/focal_yolo_torch.node) with plain g++,
// one process per translation unit. Skips with one line and exit code 0 when libtorch, the Node
// headers or node-addon-api are missing, so `npm install` never fails because of it.
//   LIBTORCH=/path/to/libtorch   a libtorch tree (include/, lib/), e.g. site-packages/torch
//   FOCAL_YOLO_NATIVE_FORCE=1     rebuild even when the addon is newer than its sources
//   --if-possible                 (for npm install hooks) a failed compile warns and exits 0
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const buildDir = join(nativeDir, 'build');
const target = join(buildDir, 'focal_yolo_torch.node');

function skip(why) {
  console.log(`[build-native] torch backend not built: ${why}`);
  process.exit(0);
}

/** Include and link flags for libtorch: $LIBTORCH, else Debian's libtorch-dev. */
function findLibtorch() {
  const env = process.env.LIBTORCH;
  if (env) {
    const lib = join(env, 'lib');
    if (!existsSync(join(env, 'include', 'ATen', 'ATen.h')) || !existsSync(lib)) {
      skip(`LIBTORCH=${env} has no include/ATen/ATen.h or lib/; point it at a libtorch tree`);
    }
    return { cflags: [`-I${join(env, 'include')}`], ldflags: [`-L${lib}`, `-Wl,-rpath,${lib}`], lib };
  }
  const debLib = '/usr/lib/x86_64-linux-gnu';
  const multiarch = spawnSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).stdout?.trim();
  const libDir = multiarch ? `/usr/lib/${multiarch}` : debLib;
  if (existsSync('/usr/include/ATen/ATen.h') && existsSync(join(libDir, 'libtorch_cpu.so'))) {
    return { cflags: [], ldflags: [], lib: libDir };
  }
  return skip('libtorch not found (apt-get install libtorch-dev libopenblas0, or set LIBTORCH)');
}

function findNodeHeaders() {
  const candidates = [
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    join(process.env.HOME ?? '', '.cache', 'node-gyp', process.versions.node, 'include', 'node'),
  ];
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h'))) ?? skip('Node headers (node_api.h) not found');
}

function findAddonApi() {
  try {
    const dir = dirname(createRequire(import.meta.url).resolve('node-addon-api/package.json'));
    return existsSync(join(dir, 'napi.h')) ? dir : skip('node-addon-api has no napi.h');
  } catch {
    return skip('node-addon-api is not installed (npm install)');
  }
}

/** pip wheels of PyTorch < 2.x were built with the old C++ ABI; match whatever libc10 uses. */
function abiFlag(libDir) {
  const nm = spawnSync('nm', ['-DC', join(libDir, 'libc10.so')], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (nm.status !== 0) return [];
  return nm.stdout.includes('std::__cxx11::') ? [] : ['-D_GLIBCXX_USE_CXX11_ABI=0'];
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

const torch = findLibtorch();
const nodeHeaders = findNodeHeaders();
const addonApi = findAddonApi();
if (spawnSync('g++', ['--version']).status !== 0) skip('g++ not found (apt-get install g++)');

const sources = readdirSync(nativeDir).filter((f) => f.endsWith('.cc')).map((f) => join(nativeDir, f));
const headers = readdirSync(nativeDir).filter((f) => f.endsWith('.h')).map((f) => join(nativeDir, f));
const newest = Math.max(...[...sources, ...headers].map((f) => statSync(f).mtimeMs));
if (!process.env.FOCAL_YOLO_NATIVE_FORCE && existsSync(target) && statSync(target).mtimeMs > newest) {
  console.log(`[build-native] ${target} is up to date`);
  process.exit(0);
}

mkdirSync(buildDir, { recursive: true });
// node-gyp's defaults (-fno-exceptions -fno-rtti) break libtorch; these are the flags it needs.
const cflags = [
  '-std=c++17', '-O2', '-fPIC', '-fexceptions', '-frtti', '-fvisibility=hidden', '-Wall',
  '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED',
  `-I${nodeHeaders}`, `-I${addonApi}`, ...torch.cflags, ...abiFlag(torch.lib),
];
const started = Date.now();
const objects = sources.map((src) => join(buildDir, src.slice(nativeDir.length + 1).replace(/\.cc$/, '.o')));
try {
  await Promise.all(sources.map((src, i) => run('g++', [...cflags, '-c', src, '-o', objects[i]])));
  const tmp = `${target}.tmp-${process.pid}`;
  await run('g++', ['-shared', '-o', tmp, ...objects, ...torch.ldflags, '-ltorch_cpu', '-lc10']);
  renameSync(tmp, target);
} catch (err) {
  const ifPossible = process.argv.includes('--if-possible');
  console.error(`[build-native] build failed: ${err instanceof Error ? err.message : String(err)}` +
    (ifPossible ? '; continuing without the torch backend' : ''));
  process.exit(ifPossible ? 0 : 1);
}
console.log(`[build-native] built ${target} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
