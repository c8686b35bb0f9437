#!/bin/bash
# ISC license: see LICENSE.
# effif against the kernel: EFFIFDIFF_SEEDS (30) seeded random routing
# setups, from EFFIFDIFF_FIRST (1), by tests/effifdiff.py; every answer is
# compared with the kernel's and the counts are printed (prove -v).
# `make effifdiff SEEDS=400` runs hundreds.
. "$(dirname "$0")/lib.sh"
DIFF=$(cd "$(dirname "$0")" && pwd)/effifdiff.py

t_diff() {
	local rc=0
	python3 "$DIFF" "$BIN" \
	    "${EFFIFDIFF_FIRST:-1}" "${EFFIFDIFF_SEEDS:-30}" >out 2>&1 || rc=$?
	while read -r line; do
		t_note "$line"
	done < <(grep -e '^setups ' -e '^disagree ' -e '^asked ' -e '^skip ' -e '^how ' out)
	[ "$rc" -eq 0 ] && return
	grep '^seed ' out | head -n 20 >&2
	fail "effif and the kernel disagree: $(grep -e '^setups ' -e \
	    '^disagree ' out | tr '\n' ';')"
}

if ip netns add "effifdiff-$$-probe" 2>/dev/null; then
	ip netns del "effifdiff-$$-probe"
	t_case \
	    "random routing setups: effif answers as the kernel routes" t_diff
else
	t_skip "random routing setups" "cannot create network namespaces (root needed)"
fi
t_done
