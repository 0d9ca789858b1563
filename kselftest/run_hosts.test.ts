// SPDX-License-Identifier: GPL-2.0-only
/** The AVA bridge (second half): every conformance program against the remaining built-in hosts. */
import test from 'ava';
import { DEFAULT_HOST } from '../lib/index';
import { registerBridge } from './bridge';

registerBridge(test, c => c.host !== DEFAULT_HOST && c.host !== 'amd-epyc');
