/**
 * roadlog supports Node.js 24 and newer (package.json "engines"). An older node, such as the
 * Node 20 that some images still put first on the PATH, stops the CLI here with a coded error
 * that names the version and the binary it found, before any other module is loaded.
 */
export const MIN_NODE_MAJOR = 24;

export function runtimeProblem(version: string, execPath: string): string | undefined {
  const major = Number(version.replace(/^v/, '').split('.')[0]);
  if (major >= MIN_NODE_MAJOR) return undefined;
  return `roadlog: ROADLOG_ERR_RUNTIME Node.js ${version} at ${execPath} is not supported: roadlog needs Node.js >= ${MIN_NODE_MAJOR} (bash infra/bootstrap.sh installs it)\n`;
}

const problem = runtimeProblem(process.version, process.execPath);
if (problem !== undefined) {
  process.stderr.write(problem);
  process.exit(1);
}
