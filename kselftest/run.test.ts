// SPDX-License-Identifier: GPL-2.0-only
/**
 * The AVA bridge (first half): every conformance program against the emulated default host
 * under several kernel profiles, and against AMD. The other hosts: run_hosts.test.ts.
 */
import test from 'ava';
import { DEFAULT_HOST } from '../lib/index';
import { registerBridge } from './bridge';

registerBridge(test, c => c.host === DEFAULT_HOST || c.host === 'amd-epyc');
