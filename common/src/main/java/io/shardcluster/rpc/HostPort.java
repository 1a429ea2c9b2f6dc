package io.shardcluster.rpc;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

/** A validated {@code host:port} address. */
public record HostPort(String host, int port) {
  public HostPort {
    requireArgument(host != null && !host.isBlank(), "address needs a host");
    requireArgument(port >= 0 && port <= 65535, "port %s is outside 0-65535", port);
  }

  /** Parses {@code host:port}; INVALID_ARGUMENT naming the text if it is malformed. */
  public static HostPort parse(String text) {
    requireArgument(text != null && !text.isBlank(), "address must not be empty");
    int colon = text.lastIndexOf(':');
    requireArgument(
        colon > 0 && colon < text.length() - 1, "malformed address '%s': expected HOST:PORT", text);
    String host = text.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(text.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw io.shardcluster.errors.ShardClusterException.invalidArgument(
          "malformed address '" + text + "': port is not a number");
    }
    requireArgument(
        port > 0 && port <= 65535, "malformed address '%s': port must be 1-65535", text);
    return new HostPort(host, port);
  }

  @Override
  public String toString() {
    return host.contains(":") ? "[" + host + "]:" + port : host + ":" + port;
  }
}
