"""kube2zk: registers RPC services declared on Kubernetes pods into ZooKeeper.

Data flows one way: ``source`` (pods) -> ``servicemap`` (desired state) ->
``plan`` (diff against what ZooKeeper holds) -> ``registry`` (owned writes).
"""
