/** The modules of some folders and what each imports, read with TypeScript's own pre-processor. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';

export interface Imports {
  /** Repository-relative paths of the modules of the graph it imports (types and `import()` included). */
  local: string[];
  /** Package specifiers. */
  external: string[];
}

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.c?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });

/** The graph of every `.ts` module under `roots` (repository-relative folders, read from the cwd). */
export function importGraph(roots: string[]): Map<string, Imports> {
  const files = roots.flatMap((root) => sourceFiles(root)).map((file) => relative('.', file));
  const known = new Set(files);
  const graph = new Map<string, Imports>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const imports: Imports = { local: [], external: [] };
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) {
        imports.external.push(fileName);
        continue;
      }
      const target = normalize(join(dirname(file), fileName)).replace(/\.(c?)js$/, '.$1ts');
      if (known.has(target)) imports.local.push(target);
      else if (known.has(join(target, 'index.ts'))) imports.local.push(join(target, 'index.ts'));
    }
    graph.set(file, imports);
  }
  return graph;
}

/** Every strongly connected group of more than one module (or a module importing itself), sorted. */
export function importCycles(graph: ReadonlyMap<string, Pick<Imports, 'local'>>): string[][] {
  // Tarjan's algorithm.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    onStack.add(node);
    const targets = graph.get(node)?.local ?? [];
    for (const target of targets) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) low.set(node, Math.min(low.get(node)!, index.get(target)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(member);
    } while (member !== node);
    if (group.length > 1 || targets.includes(node)) cycles.push(group.sort());
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return cycles.sort((a, b) => a[0]!.localeCompare(b[0]!));
}
