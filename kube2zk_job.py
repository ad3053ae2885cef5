#!/usr/bin/env python3
"""kube2zk: register the RPC services declared on Kubernetes pods into ZooKeeper.

One run lists the pods labelled rpc-service=true, builds the full service map,
makes the nodes it owns under -zkpath match it, and exits; --loop keeps
following changes. See --help.
"""

import sys

from lib.app import main

if __name__ == "__main__":
    sys.exit(main())
