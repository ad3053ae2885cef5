package kube2zk.consumers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * The request loop every consumer shares: one JSON object a line on stdin
 * ({"op": ..., ...}), one JSON object a line on stdout for each, in order.
 * A failed request answers {"error": "<exception class>: message"}; the
 * process keeps serving. Whatever the libraries print goes to stderr, so
 * stdout carries the answers only. The op "ping" answers {"ok": true};
 * "quit" (or the end of stdin) ends the process at once.
 */
public final class JsonLines {
  public static final ObjectMapper JSON = new ObjectMapper();

  /** Handles one request; the returned object (a Jackson node or a plain value) is the answer. */
  public interface Handler {
    Object handle(String op, JsonNode request) throws Exception;
  }

  private JsonLines() {}

  public static void serve(Handler handler) throws Exception {
    PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, "UTF-8");
    System.setOut(System.err);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) {
        continue;
      }
      ObjectNode answer;
      String op = "";
      try {
        JsonNode request = JSON.readTree(line);
        op = request.path("op").asText();
        if (op.equals("quit")) {
          out.println("{\"ok\":true}");
          break;
        }
        Object result = op.equals("ping") ? JSON.createObjectNode().put("ok", true) : handler.handle(op, request);
        answer = JSON.valueToTree(result);
      } catch (Throwable e) {
        answer = error(e);
      }
      out.println(JSON.writeValueAsString(answer));
    }
    out.flush();
    // No shutdown hooks: the libraries' hooks would unregister and wait for
    // nothing the caller needs; the ZooKeeper sessions just end.
    Runtime.getRuntime().halt(0);
  }

  /** {"error": "<class>: message", "cause": "<class>: message" of the innermost cause}. */
  public static ObjectNode error(Throwable e) {
    ObjectNode answer = JSON.createObjectNode();
    answer.put("error", describe(e));
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    if (root != e) {
      answer.put("cause", describe(root));
    }
    return answer;
  }

  private static String describe(Throwable e) {
    return e.getClass().getName() + ": " + e.getMessage();
  }

  public static String text(JsonNode request, String field) {
    JsonNode value = request.get(field);
    if (value == null || value.isNull()) {
      throw new IllegalArgumentException("missing field " + field);
    }
    return value.asText();
  }

  public static String text(JsonNode request, String field, String fallback) {
    JsonNode value = request.get(field);
    return value == null || value.isNull() ? fallback : value.asText();
  }
}
