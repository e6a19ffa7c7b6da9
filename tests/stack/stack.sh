#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Placeholder until the local Keystone + Swift test cloud lands: starts nothing.
echo "tests/stack/stack.sh: no services yet ($*)"
