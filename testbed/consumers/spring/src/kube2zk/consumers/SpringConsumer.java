package kube2zk.consumers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;
import org.springframework.cloud.client.ServiceInstance;
import org.springframework.cloud.zookeeper.discovery.ZookeeperDiscoveryClient;
import org.springframework.cloud.zookeeper.discovery.ZookeeperDiscoveryProperties;
import org.springframework.cloud.zookeeper.discovery.ZookeeperInstance;
import org.springframework.cloud.zookeeper.discovery.dependency.ZookeeperDependencies;

/**
 * Spring Cloud Zookeeper's DiscoveryClient as an application sees the nodes
 * under spring.cloud.zookeeper.discovery.root, wired as its auto-configuration
 * does: a Curator ServiceDiscovery of ZookeeperInstance payloads at the root.
 *
 * <pre>
 * {"op":"instances","connect":"h:p","root":"/services","name":"svc"}
 *   -> {"instances":[{"serviceId","instanceId","host","port","uri","secure","scheme","metadata"}]}
 * {"op":"services","connect","root"} -> {"services":[...]}
 * </pre>
 */
public final class SpringConsumer {
  private final CuratorClients clients = new CuratorClients();
  private final Map<String, ZookeeperDiscoveryClient> discoveryClients = new HashMap<>();

  public static void main(String[] args) throws Exception {
    SpringConsumer consumer = new SpringConsumer();
    JsonLines.serve(consumer::handle);
  }

  Object handle(String op, JsonNode req) throws Exception {
    ObjectNode answer = JsonLines.JSON.createObjectNode();
    switch (op) {
      case "instances":
        ArrayNode instances = answer.putArray("instances");
        for (ServiceInstance i : discoveryClient(req).getInstances(JsonLines.text(req, "name"))) {
          ObjectNode node = instances.addObject();
          node.put("serviceId", i.getServiceId());
          node.put("instanceId", i.getInstanceId());
          node.put("host", i.getHost());
          node.put("port", i.getPort());
          node.put("uri", i.getUri() == null ? null : i.getUri().toString());
          node.put("secure", i.isSecure());
          node.put("scheme", i.getScheme());
          node.set("metadata", JsonLines.JSON.valueToTree(i.getMetadata()));
        }
        return answer;
      case "services":
        ArrayNode services = answer.putArray("services");
        discoveryClient(req).getServices().forEach(services::add);
        return answer;
      default:
        throw new IllegalArgumentException("unknown op " + op);
    }
  }

  private ZookeeperDiscoveryClient discoveryClient(JsonNode req) throws Exception {
    String connect = JsonLines.text(req, "connect");
    String root = JsonLines.text(req, "root", "/services");
    String key = connect + " " + root;
    ZookeeperDiscoveryClient discoveryClient = discoveryClients.get(key);
    if (discoveryClient == null) {
      ServiceDiscovery<ZookeeperInstance> discovery = ServiceDiscoveryBuilder.builder(ZookeeperInstance.class)
          .client(clients.get(connect))
          .basePath(root)
          .serializer(new JsonInstanceSerializer<>(ZookeeperInstance.class))
          .build();
      discovery.start();
      ZookeeperDiscoveryProperties properties = new ZookeeperDiscoveryProperties() {};
      properties.setRoot(root);
      discoveryClient = new ZookeeperDiscoveryClient(discovery, new ZookeeperDependencies(), properties);
      discoveryClients.put(key, discoveryClient);
    }
    return discoveryClient;
  }
}
