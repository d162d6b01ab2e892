"""`ledger verify` at scale, measured once by hand (it takes about half an hour): a ledger of SIZE
entries (default 10,000,000), sealed, then verified by `passby ledger verify` under /usr/bin/time.
Prints the load, seal and verify times, entries per second and peak resident memory.

Usage: ledger_scale.py PATH/TO/release/passby [SIZE]
"""

import sys
import time

from bench import ledger_verify, seal_ms
from live import Passby

CHUNK = 1_000_000


def main():
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
    passby = Passby(sys.argv[1], start=False)
    try:
        passby.start(PASSBY_SEAL_SECONDS="86400")
        began = time.monotonic()
        for start in range(0, size, CHUNK):
            passby.psql(f"INSERT INTO ledger (kind, result) SELECT 'verification', 'valid' FROM generate_series(1, {min(CHUNK, size - start)})")
            print(f"loaded {start + min(CHUNK, size - start):,} entries ({time.monotonic() - began:.0f} s)", flush=True)
        loaded = time.monotonic() - began
        began = time.monotonic()
        while seal_ms(passby) is not None:
            pass
        sealed = time.monotonic() - began
        passby.psql("ANALYZE")
        total = int(passby.psql("SELECT count(*) FROM ledger"))
        began = time.monotonic()
        per_second, peak_mb = ledger_verify(passby)
        verified = time.monotonic() - began
        print(f"ledger of {total:,} entries: load {loaded:.0f} s, seal {sealed:.0f} s, verify {verified:.0f} s "
              f"({per_second:,.0f} entries/s), verify peak resident memory {peak_mb:.0f} MB", flush=True)
    finally:
        passby.stop()


if __name__ == "__main__":
    main()
