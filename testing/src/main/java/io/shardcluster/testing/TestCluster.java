package io.shardcluster.testing;

import io.shardcluster.client.NodeState;
import io.shardcluster.client.ShardClient;
import java.util.Map;
import java.util.Set;

/**
 * A running cluster as a test sees it, whichever harness runs it: {@link InProcessCluster} (one
 * JVM, in-process channels, fast) or {@link LocalCluster} (real coordinator and node JVMs on real
 * sockets, killed with SIGKILL). A scenario written against this runs both ways ({@link
 * ClusterScenarios}).
 */
public interface TestCluster extends AutoCloseable {
  /** A client of the cluster, closed with it. */
  public ShardClient client();

  /** Starts a new node, which registers and joins. */
  public void startNode(String id) throws Exception;

  /** Stops a node at once: in process, closing it; as a process, SIGKILL. Its data stays. */
  public void crashNode(String id) throws Exception;

  /** Starts a stopped node again on its data and address. */
  public void recoverNode(String id) throws Exception;

  /** Waits until the coordinator lists the node in the state. */
  public void awaitNodeState(String id, NodeState state);

  /** Waits until no migration runs and no node is joining or draining. */
  public void awaitSettled();

  /** The keys each node serves in the keyspace, asked of each node directly. */
  public Map<String, Set<String>> keysByNode(String keyspace);
}
