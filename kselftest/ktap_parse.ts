// SPDX-License-Identifier: GPL-2.0-only
/** Test helper: nested KTAP read by a standard TAP consumer (tap-parser), top level and subtests. */
import { Parser, type FinalResults } from 'tap-parser';

export function parseKtap(text: string): Promise<{ top: FinalResults; children: FinalResults[] }> {
  const parser = new Parser();
  const children: FinalResults[] = [];
  parser.on('child', (c: Parser) => c.on('complete', (r: FinalResults) => children.push(r)));
  const top = new Promise<FinalResults>((resolve) => parser.on('complete', resolve));
  parser.end(text);
  return top.then((t) => ({ top: t, children }));
}
