/**
 * Zone loading from disk (the only DNS file that reads files): master file → parse →
 * named-checkzone-style checks → Zone. Every problem comes back as `file:line: message`.
 * A zone with errors is not built; on reload the caller keeps the previous one serving.
 */
import { readFileSync } from 'node:fs';
import { resolve, dirname, isAbsolute } from 'node:path';
import { nameFromText, nameToText } from './name.js';
import { parseZoneFile, type ZoneIssue } from './zone-file.js';
import { checkZone } from './zone-check.js';
import { Zone } from './zone.js';

export interface ZoneLoad {
  readonly origin: string;
  readonly file: string;
  readonly zone: Zone | undefined;
  readonly errors: string[];
  readonly warnings: string[];
}

const fmt = (i: ZoneIssue): string =>
  i.line > 0 ? `${i.file}:${i.line}: ${i.message}` : `${i.file}: ${i.message}`;

export function loadZoneFile(originText: string, fileRel: string, configDir: string): ZoneLoad {
  const file = resolve(configDir, fileRel);
  const originName = originText.endsWith('.') ? originText : originText + '.';
  let origin: Uint8Array;
  try {
    origin = nameFromText(originName);
  } catch (e) {
    return {
      origin: originName,
      file,
      zone: undefined,
      errors: [`${file}: bad origin ${originText}: ${(e as Error).message}`],
      warnings: [],
    };
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return {
      origin: originName,
      file,
      zone: undefined,
      errors: [`${file}: cannot read: ${(e as Error).message}`],
      warnings: [],
    };
  }
  // $INCLUDE paths are relative to the including file's directory, as in BIND.
  const parsed = parseZoneFile(text, {
    origin,
    file,
    readInclude: (p) => readFileSync(isAbsolute(p) ? p : resolve(dirname(file), p), 'utf8'),
  });
  const errors = parsed.errors.map(fmt);
  const warnings = parsed.warnings.map(fmt);
  if (errors.length > 0)
    return { origin: nameToText(origin), file, zone: undefined, errors, warnings };
  const checked = checkZone(parsed.records, origin, { file, sources: parsed.sources });
  errors.push(...checked.errors.map(fmt));
  warnings.push(...checked.warnings.map(fmt));
  if (errors.length > 0)
    return { origin: nameToText(origin), file, zone: undefined, errors, warnings };
  try {
    return {
      origin: nameToText(origin),
      file,
      zone: new Zone(origin, checked.records),
      errors,
      warnings,
    };
  } catch (e) {
    return {
      origin: nameToText(origin),
      file,
      zone: undefined,
      errors: [`${file}: ${(e as Error).message}`],
      warnings,
    };
  }
}
