package kube2zk.consumers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.ServiceInstanceBuilder;
import org.apache.curator.x.discovery.ServiceType;
import org.apache.curator.x.discovery.UriSpec;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;

/**
 * Apache Curator x-discovery as a consumer sees <base>/<name>/<id> nodes, through
 * ServiceDiscovery with JsonInstanceSerializer (compatible mode, the default).
 *
 * <pre>
 * {"op":"query","connect":"h:p","base":"/services","name":"svc"[,"payloadClass":"..."]}
 *   -> {"instances":[{"id","name","address","port","sslPort","payloadClass","payload",
 *                     "registrationTimeUTC","serviceType","enabled","uri"}]}
 * {"op":"names","connect","base"} -> {"names":[...]}
 * {"op":"register","connect","base","name","id","address","port"[,"sslPort","payload",
 *   "serviceType" (STATIC),"uriSpec","registrationTimeUTC","payloadClass"]} -> {"ok":true}
 * {"op":"unregister","connect","base","name","id"} -> {"ok":true}
 * </pre>
 *
 * The payload class defaults to Spring Cloud Zookeeper's ZookeeperInstance.
 * Instances registered here stay until unregistered (the discovery objects are
 * never closed: closing would unregister them).
 */
public final class CuratorConsumer {
  static final String SPRING_PAYLOAD = "org.springframework.cloud.zookeeper.discovery.ZookeeperInstance";

  private final CuratorClients clients = new CuratorClients();
  private final Map<String, ServiceDiscovery<Object>> discoveries = new HashMap<>();

  public static void main(String[] args) throws Exception {
    CuratorConsumer consumer = new CuratorConsumer();
    JsonLines.serve(consumer::handle);
  }

  Object handle(String op, JsonNode req) throws Exception {
    switch (op) {
      case "query":
        return query(req);
      case "names":
        ObjectNode names = JsonLines.JSON.createObjectNode();
        ArrayNode list = names.putArray("names");
        discovery(req).queryForNames().forEach(list::add);
        return names;
      case "register":
        discovery(req).registerService(instance(req));
        return JsonLines.JSON.createObjectNode().put("ok", true);
      case "unregister":
        discovery(req).unregisterService(
            new ServiceInstance<Object>(JsonLines.text(req, "name"), JsonLines.text(req, "id"), null, null, null,
                null, 0, ServiceType.STATIC, null));
        return JsonLines.JSON.createObjectNode().put("ok", true);
      default:
        throw new IllegalArgumentException("unknown op " + op);
    }
  }

  private ObjectNode query(JsonNode req) throws Exception {
    ObjectNode answer = JsonLines.JSON.createObjectNode();
    ArrayNode instances = answer.putArray("instances");
    for (ServiceInstance<Object> i : discovery(req).queryForInstances(JsonLines.text(req, "name"))) {
      ObjectNode node = instances.addObject();
      node.put("id", i.getId());
      node.put("name", i.getName());
      node.put("address", i.getAddress());
      node.putPOJO("port", i.getPort());
      node.putPOJO("sslPort", i.getSslPort());
      Object payload = i.getPayload();
      node.put("payloadClass", payload == null ? null : payload.getClass().getName());
      node.set("payload", JsonLines.JSON.valueToTree(payload));
      node.put("registrationTimeUTC", i.getRegistrationTimeUTC());
      node.put("serviceType", i.getServiceType() == null ? null : i.getServiceType().name());
      node.put("enabled", i.isEnabled());
      node.put("uri", i.getUriSpec() == null ? null : i.buildUriSpec());
    }
    return answer;
  }

  private ServiceInstance<Object> instance(JsonNode req) throws Exception {
    ServiceInstanceBuilder<Object> b = ServiceInstance.builder();
    b.name(JsonLines.text(req, "name")).id(JsonLines.text(req, "id")).address(JsonLines.text(req, "address"));
    b.port(req.path("port").asInt());
    if (req.hasNonNull("sslPort")) {
      b.sslPort(req.get("sslPort").asInt());
    }
    b.serviceType(ServiceType.valueOf(JsonLines.text(req, "serviceType", "STATIC")));
    b.uriSpec(new UriSpec(JsonLines.text(req, "uriSpec", "{scheme}://{address}:{port}")));
    if (req.hasNonNull("registrationTimeUTC")) {
      b.registrationTimeUTC(req.get("registrationTimeUTC").asLong());
    }
    if (req.hasNonNull("payload")) {
      b.payload(JsonLines.JSON.treeToValue(req.get("payload"), payloadClass(req)));
    }
    return b.build();
  }

  private static Class<?> payloadClass(JsonNode req) throws ClassNotFoundException {
    return Class.forName(JsonLines.text(req, "payloadClass", SPRING_PAYLOAD));
  }

  @SuppressWarnings("unchecked")
  private ServiceDiscovery<Object> discovery(JsonNode req) throws Exception {
    String connect = JsonLines.text(req, "connect");
    String base = JsonLines.text(req, "base", "/services");
    Class<Object> payloadClass = (Class<Object>) payloadClass(req);
    String key = connect + " " + base + " " + payloadClass.getName();
    ServiceDiscovery<Object> discovery = discoveries.get(key);
    if (discovery == null) {
      discovery = ServiceDiscoveryBuilder.builder(payloadClass)
          .client(clients.get(connect))
          .basePath(base)
          .serializer(new JsonInstanceSerializer<>(payloadClass))
          .build();
      discovery.start();
      discoveries.put(key, discovery);
    }
    return discovery;
  }
}
