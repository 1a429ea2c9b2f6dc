package io.shardcluster.node;

import static io.shardcluster.errors.ShardClusterException.requireArgument;

import io.shardcluster.rpc.HostPort;
import java.util.regex.Pattern;

/**
 * A process of a shard's replica group, as given on the command line: {@code ID@HOST:PORT/RAFTPORT}
 * (its replica id, the address clients reach it at, and the port its Raft server listens on).
 *
 * @param id the replica id, unique within the group
 * @param address host:port of its gRPC server (what clients and other nodes call)
 * @param raftPort the port of its Raft server, on the same host
 */
public record GroupPeer(String id, HostPort address, int raftPort) {
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,31}");

  public GroupPeer {
    requireArgument(id != null && ID.matcher(id).matches(), "replica id '%s' is not valid", id);
    requireArgument(
        raftPort > 0 && raftPort <= 65535, "raft port must be 1-65535, got %s", raftPort);
  }

  /** Parses {@code ID@HOST:PORT/RAFTPORT}; INVALID_ARGUMENT naming the expected form otherwise. */
  public static GroupPeer parse(String text) {
    int at = text.indexOf('@');
    int slash = text.lastIndexOf('/');
    requireArgument(
        at > 0 && slash > at,
        "replica '%s' must be ID@HOST:PORT/RAFTPORT, e.g. a@127.0.0.1:7501/7601",
        text);
    int raftPort;
    try {
      raftPort = Integer.parseInt(text.substring(slash + 1));
    } catch (NumberFormatException e) {
      throw io.shardcluster.errors.ShardClusterException.invalidArgument(
          "replica '" + text + "': raft port is not a number");
    }
    return new GroupPeer(
        text.substring(0, at), HostPort.parse(text.substring(at + 1, slash)), raftPort);
  }

  /** host:raftPort. */
  String raftAddress() {
    return address.host() + ":" + raftPort;
  }

  @Override
  public String toString() {
    return id + "@" + address + "/" + raftPort;
  }
}
