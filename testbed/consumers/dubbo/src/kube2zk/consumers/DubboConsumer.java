package kube2zk.consumers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.dubbo.common.URL;
import org.apache.dubbo.registry.NotifyListener;
import org.apache.dubbo.registry.Registry;
import org.apache.dubbo.registry.RegistryFactory;
import org.apache.dubbo.rpc.model.ApplicationModel;
import org.apache.dubbo.rpc.model.FrameworkModel;

/**
 * Apache Dubbo's interface-level ZooKeeper registry as a consumer (and a
 * provider) uses it: the "zookeeper" RegistryFactory extension, registry URL
 * zookeeper://host:port?file.cache=false&group=<root> (no local cache file;
 * the group is the root, "/dubbo" by default).
 *
 * <pre>
 * {"op":"lookup","connect":"h:p","root":"/dubbo","interface":"i"[,"version","group"]}
 *   -> {"urls":["dubbo://...", ...]}            (the providers the consumer matches)
 * {"op":"subscribe", same fields} -> {"subscription": n}
 * {"op":"notifications","subscription":n} -> {"notifications":[["dubbo://..."], ["empty://..."], ...]}
 * {"op":"unsubscribe","subscription":n} -> {"ok":true}
 * {"op":"register","connect","root","url":"dubbo://..."} -> {"ok":true}
 * {"op":"unregister","connect","root","url":"dubbo://..."} -> {"ok":true}
 * </pre>
 */
public final class DubboConsumer {
  private final ApplicationModel application;
  private final Map<String, Registry> registries = new HashMap<>();
  private final List<Subscription> subscriptions = new ArrayList<>();

  private static final class Subscription implements NotifyListener {
    final Registry registry;
    final URL consumer;
    final List<List<String>> notifications = new ArrayList<>();

    Subscription(Registry registry, URL consumer) {
      this.registry = registry;
      this.consumer = consumer;
    }

    @Override
    public synchronized void notify(List<URL> urls) {
      List<String> full = new ArrayList<>();
      for (URL url : urls) {
        full.add(url.toFullString());
      }
      notifications.add(full);
    }

    synchronized List<List<String>> snapshot() {
      return new ArrayList<>(notifications);
    }
  }

  DubboConsumer() {
    application = new FrameworkModel().newApplication();
  }

  public static void main(String[] args) throws Exception {
    DubboConsumer consumer = new DubboConsumer();
    JsonLines.serve(consumer::handle);
  }

  Object handle(String op, JsonNode req) throws Exception {
    ObjectNode answer = JsonLines.JSON.createObjectNode();
    switch (op) {
      case "lookup":
        ArrayNode urls = answer.putArray("urls");
        for (URL url : registry(req).lookup(consumer(req))) {
          urls.add(url.toFullString());
        }
        return answer;
      case "subscribe":
        Subscription subscription = new Subscription(registry(req), consumer(req));
        synchronized (subscriptions) {
          subscriptions.add(subscription);
          answer.put("subscription", subscriptions.size() - 1);
        }
        subscription.registry.subscribe(subscription.consumer, subscription);
        return answer;
      case "notifications":
        answer.set("notifications", JsonLines.JSON.valueToTree(subscription(req).snapshot()));
        return answer;
      case "unsubscribe":
        Subscription old = subscription(req);
        old.registry.unsubscribe(old.consumer, old);
        return answer.put("ok", true);
      case "register":
        registry(req).register(provider(req));
        return answer.put("ok", true);
      case "unregister":
        registry(req).unregister(provider(req));
        return answer.put("ok", true);
      default:
        throw new IllegalArgumentException("unknown op " + op);
    }
  }

  private Subscription subscription(JsonNode req) {
    synchronized (subscriptions) {
      return subscriptions.get(req.path("subscription").asInt());
    }
  }

  private URL provider(JsonNode req) {
    return URL.valueOf(JsonLines.text(req, "url")).setScopeModel(application);
  }

  /** The URL a consumer of the interface subscribes with (category providers only). */
  private URL consumer(JsonNode req) {
    String iface = JsonLines.text(req, "interface");
    URL url = URL.valueOf("consumer://127.0.0.1/" + iface)
        .addParameter("interface", iface)
        .addParameter("category", "providers")
        .addParameter("side", "consumer")
        .addParameter("check", "false");
    String version = JsonLines.text(req, "version", "");
    if (!version.isEmpty()) {
      url = url.addParameter("version", version);
    }
    String group = JsonLines.text(req, "group", "");
    if (!group.isEmpty()) {
      url = url.addParameter("group", group);
    }
    return url.setScopeModel(application);
  }

  private Registry registry(JsonNode req) {
    String connect = JsonLines.text(req, "connect");
    String root = JsonLines.text(req, "root", "/dubbo");
    String key = connect + " " + root;
    Registry registry = registries.get(key);
    if (registry == null) {
      String[] hosts = connect.split(",");
      URL url = URL.valueOf("zookeeper://" + hosts[0])
          .addParameter("file.cache", "false")
          .addParameter("group", root);
      if (hosts.length > 1) {
        url = url.addParameter("backup", String.join(",", java.util.Arrays.copyOfRange(hosts, 1, hosts.length)));
      }
      url = url.setScopeModel(application);
      registry = application.getExtensionLoader(RegistryFactory.class).getExtension("zookeeper").getRegistry(url);
      registries.put(key, registry);
    }
    return registry;
  }
}
