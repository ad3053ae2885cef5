package kube2zk.consumers;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryNTimes;

/** One started Curator client per connect string, shared by the requests of one program. */
final class CuratorClients {
  private final Map<String, CuratorFramework> clients = new HashMap<>();

  CuratorFramework get(String connect) throws Exception {
    CuratorFramework client = clients.get(connect);
    if (client == null) {
      client = CuratorFrameworkFactory.builder()
          .connectString(connect)
          .sessionTimeoutMs(10000)
          .connectionTimeoutMs(5000)
          .retryPolicy(new RetryNTimes(3, 200))
          .build();
      client.start();
      if (!client.blockUntilConnected(10, TimeUnit.SECONDS)) {
        client.close();
        throw new IllegalStateException("no connection to ZooKeeper at " + connect);
      }
      clients.put(connect, client);
    }
    return client;
  }
}
