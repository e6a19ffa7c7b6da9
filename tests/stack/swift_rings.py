#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Builds the account, container and object rings of a one-device, one-replica Swift.
"""swift_rings.py SWIFT_DIR DEVICE ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT

Writes SWIFT_DIR/{account,container,object}.ring.gz (and their .builder files) with one device
named DEVICE on 127.0.0.1. One process instead of nine swift-ring-builder runs saves seconds.
"""
import os
import sys


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    swift_dir, device = sys.argv[1:3]
    ports = dict(zip(("account", "container", "object"), map(int, sys.argv[3:6])))

    from swift.common import utils

    utils.set_swift_dir(swift_dir)
    from swift.common.ring import RingBuilder

    for ring, port in ports.items():
        # 2**6 partitions: plenty for one device; min_part_hours 0 lets a rebuild rebalance.
        builder = RingBuilder(6, 1, 0)
        builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": port,
                         "replication_ip": "127.0.0.1", "replication_port": port,
                         "device": device, "weight": 100.0, "meta": ""})
        builder.rebalance()
        builder.save(os.path.join(swift_dir, ring + ".builder"))
        builder.get_ring().save(os.path.join(swift_dir, ring + ".ring.gz"))


if __name__ == "__main__":
    main()
