package io.shardcluster.node;

import io.grpc.Context;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.NotLeaderException;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.rpc.DaemonThreads;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.proto.RaftProtos.CommitInfoProto;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.RaftException;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.apache.ratis.util.TimeDuration;
import org.jspecify.annotations.Nullable;

/**
 * This process's place in its shard's replica group, on Apache Ratis: every write batch of the
 * store goes through the group's log ({@link LocalStore.WriteLog}) and is acknowledged once a
 * majority has it on disk and this replica applied it; reads are confirmed by a read-index round
 * (or the leader's lease) shared by concurrent reads ({@link ReadBarrier}). The log is kept whole
 * (no snapshots yet), so a replica that lost its data directory is rebuilt by replaying it.
 */
final class ReplicaGroup implements LocalStore.WriteLog, AutoCloseable {
  private static final Logger logger = Logger.getLogger(ReplicaGroup.class.getName());
  // Ratis logs every setting it reads, and each election step, at INFO: warnings and up only
  // (held here so that the setting is not collected with the logger).
  private static final Logger RATIS_LOGGER = Logger.getLogger("org.apache.ratis");

  static {
    RATIS_LOGGER.setLevel(Level.WARNING);
  }

  // A leader silent this long is replaced: election after 1.0-1.5 s, so that a group serves
  // again within about 2 s of its leader's death; long enough that a GC pause or a busy two-core
  // machine does not depose a live leader.
  private static final Duration ELECTION_TIMEOUT_MIN = Duration.ofSeconds(1);
  private static final Duration ELECTION_TIMEOUT_MAX = Duration.ofMillis(1500);
  private static final Duration WRITE_TIMEOUT = Duration.ofSeconds(10);

  /** What the coordinator and operators see of a replica. */
  record Status(
      String replicaId,
      boolean leader,
      long term,
      long appliedIndex,
      @Nullable String leaderId,
      Map<String, Long> peerCommitIndexes) {}

  private final String nodeId;
  private final RaftPeerId self;
  private final RaftGroup group;
  private final RaftServer server;
  private final ClientId clientId = ClientId.randomId();
  private final AtomicLong callIds = new AtomicLong();
  private final ReadBarrier barrier;
  private final ExecutorService readRounds =
      Executors.newSingleThreadExecutor(DaemonThreads.named("read-index"));

  private ReplicaGroup(String nodeId, RaftPeerId self, RaftGroup group, RaftServer server) {
    this.nodeId = nodeId;
    this.self = self;
    this.group = group;
    this.server = server;
    this.barrier = new ReadBarrier(this::readIndex, readRounds);
  }

  /**
   * Starts this replica's Raft server with its log under {@code dir}, applying to {@code store}.
   * {@code leadership} hears true when this replica becomes leader and false when another one does
   * or the leadership is lost (on a Ratis thread; it must not block).
   */
  static ReplicaGroup start(
      String nodeId,
      String selfId,
      List<GroupPeer> peers,
      Path dir,
      LocalStore store,
      Consumer<Boolean> leadership) {
    RaftPeerId self = RaftPeerId.valueOf(selfId);
    GroupPeer own =
        peers.stream()
            .filter(peer -> peer.id().equals(selfId))
            .findFirst()
            .orElseThrow(
                () ->
                    ShardClusterException.invalidArgument(
                        "replica " + selfId + " is not among the group's peers " + peers));
    List<RaftPeer> raftPeers = new ArrayList<>();
    for (GroupPeer peer : peers) {
      raftPeers.add(
          RaftPeer.newBuilder()
              .setId(peer.id())
              .setAddress(peer.raftAddress())
              .setClientAddress(peer.address().toString())
              .build());
    }
    RaftGroupId groupId =
        RaftGroupId.valueOf(
            UUID.nameUUIDFromBytes(("shardcluster/" + nodeId).getBytes(StandardCharsets.UTF_8)));
    RaftGroup group = RaftGroup.valueOf(groupId, raftPeers);
    RaftProperties properties = new RaftProperties();
    RaftServerConfigKeys.setStorageDir(properties, List.of(dir.toFile()));
    GrpcConfigKeys.Server.setHost(properties, own.address().host());
    GrpcConfigKeys.Server.setPort(properties, own.raftPort());
    RaftServerConfigKeys.Rpc.setTimeoutMin(properties, millis(ELECTION_TIMEOUT_MIN));
    RaftServerConfigKeys.Rpc.setTimeoutMax(properties, millis(ELECTION_TIMEOUT_MAX));
    RaftServerConfigKeys.Read.setOption(properties, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
    RaftServerConfigKeys.Read.setLeaderLeaseEnabled(properties, true);
    // Ratis's leader waits up to 10 ms by default for more entries before it sends them to the
    // followers; a write waits for that. 1 ms (0 makes it spin on a core while idle).
    RaftServerConfigKeys.Log.Appender.setWaitTimeMin(
        properties, TimeDuration.valueOf(1, TimeUnit.MILLISECONDS));
    // Any Ratis setting can be given as a JVM system property (-Draft.server.rpc.timeout.min=2s):
    // for tuning and experiments, applied over the settings above.
    for (String name : System.getProperties().stringPropertyNames()) {
      if (name.startsWith("raft.")) {
        properties.set(name, System.getProperty(name));
      }
    }
    boolean formatted = Files.isDirectory(dir.resolve(groupId.getUuid().toString()));
    StoreStateMachine machine =
        new StoreStateMachine(store, leader -> leadership.accept(self.equals(leader)));
    try {
      Files.createDirectories(dir);
      RaftServer server =
          RaftServer.newBuilder()
              .setServerId(self)
              .setGroup(group)
              .setStateMachine(machine)
              .setProperties(properties)
              .setOption(
                  formatted ? RaftStorage.StartupOption.RECOVER : RaftStorage.StartupOption.FORMAT)
              .build();
      server.start();
      logger.info(
          nodeId
              + " replica "
              + selfId
              + " started its Raft server on "
              + own.raftAddress()
              + " (group "
              + peers
              + (formatted ? ", log recovered" : ", new log")
              + ")");
      return new ReplicaGroup(nodeId, self, group, server);
    } catch (IOException e) {
      logger.log(Level.SEVERE, "Raft start", e);
      throw new UncheckedIOException(
          "cannot start the Raft server of " + nodeId + ": " + e.getMessage(), e);
    }
  }

  private static TimeDuration millis(Duration duration) {
    return TimeDuration.valueOf(duration.toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * CANCELLED if the gRPC call this thread serves was cancelled or ran past its deadline: its
   * caller has given up, and a write it still made could land after the caller's next one.
   */
  static void refuseIfCancelled() {
    Context context = Context.current();
    if (context.isCancelled()) {
      throw new ShardClusterException(
          ErrorCode.CANCELLED, "the caller gave up before the write was made");
    }
  }

  @Override
  public void append(byte[] batch) {
    refuseIfCancelled();
    RaftClientRequest request =
        request(
            Message.valueOf(UnsafeByteOperations.unsafeWrap(batch)),
            RaftClientRequest.writeRequestType());
    RaftClientReply reply;
    try {
      reply =
          server
              .submitClientRequestAsync(request)
              .get(WRITE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (IOException | ExecutionException e) {
      throw ShardClusterException.unavailable(
          nodeId + " could not replicate a write: " + e.getMessage());
    } catch (TimeoutException e) {
      throw ShardClusterException.unavailable(
          nodeId
              + " could not replicate a write within "
              + WRITE_TIMEOUT.toSeconds()
              + " s: a majority of its replicas may be down");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ShardClusterException.unavailable(nodeId + " was interrupted replicating a write");
    }
    if (!reply.isSuccess()) {
      throw failure(reply.getException());
    }
  }

  /**
   * Returns once this replica may serve a read as current: it is the leader, confirmed by a
   * majority (or its lease) after the read arrived, with every entry committed before applied.
   * NOT_LEADER otherwise.
   */
  void awaitLinearizable() {
    try {
      barrier.await().get(WRITE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof ShardClusterException known
          ? known
          : ShardClusterException.unavailable(nodeId + " could not confirm its leadership");
    } catch (TimeoutException e) {
      throw ShardClusterException.unavailable(
          nodeId + " could not confirm its leadership within " + WRITE_TIMEOUT.toSeconds() + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ShardClusterException.unavailable(nodeId + " was interrupted confirming a read");
    }
  }

  private CompletableFuture<Void> readIndex() {
    try {
      return server
          .submitClientRequestAsync(request(Message.EMPTY, RaftClientRequest.readRequestType()))
          .thenApply(
              reply -> {
                if (!reply.isSuccess()) {
                  throw failure(reply.getException());
                }
                return null;
              });
    } catch (IOException e) {
      return CompletableFuture.failedFuture(
          ShardClusterException.unavailable(nodeId + ": " + e.getMessage()));
    }
  }

  private RaftClientRequest request(Message message, RaftClientRequest.Type type) {
    return RaftClientRequest.newBuilder()
        .setClientId(clientId)
        .setServerId(self)
        .setGroupId(group.getGroupId())
        .setCallId(callIds.incrementAndGet())
        .setMessage(message)
        .setType(type)
        .setTimeoutMs(WRITE_TIMEOUT.toMillis())
        .build();
  }

  /** Why a request failed: not the leader (with the leader's address if known), or unavailable. */
  private ShardClusterException failure(@Nullable RaftException e) {
    if (e instanceof org.apache.ratis.protocol.exceptions.NotLeaderException notLeader) {
      RaftPeer suggested = notLeader.getSuggestedLeader();
      return new NotLeaderException(nodeId, suggested == null ? "" : suggested.getClientAddress());
    }
    if (e instanceof org.apache.ratis.protocol.exceptions.LeaderNotReadyException
        || e instanceof org.apache.ratis.protocol.exceptions.LeaderSteppingDownException
        || e instanceof org.apache.ratis.protocol.exceptions.ReadIndexException
        || e instanceof org.apache.ratis.protocol.exceptions.ReadException) {
      return new NotLeaderException(nodeId, "");
    }
    return ShardClusterException.unavailable(
        nodeId + "'s replica group failed a request: " + (e == null ? "unknown" : e.getMessage()));
  }

  /** The error a process that is not the leader answers with. */
  NotLeaderException notLeader() {
    return new NotLeaderException(nodeId, leaderAddress().orElse(""));
  }

  /** Whether this replica leads its group now. */
  boolean leads() {
    try {
      return server.getDivision(group.getGroupId()).getInfo().isLeader();
    } catch (IOException e) {
      return false;
    }
  }

  /** The leader's client address, if this replica knows who leads. */
  private Optional<String> leaderAddress() {
    try {
      RaftServer.Division division = server.getDivision(group.getGroupId());
      RaftPeerId leader = division.getInfo().getLeaderId();
      if (leader == null) {
        return Optional.empty();
      }
      RaftPeer peer = division.getRaftConf().getPeer(leader);
      return peer == null ? Optional.empty() : Optional.of(peer.getClientAddress());
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** This replica's role, term and progress, and (on the leader) every replica's. */
  Status status() {
    try {
      RaftServer.Division division = server.getDivision(group.getGroupId());
      DivisionInfo info = division.getInfo();
      Map<String, Long> commits = new HashMap<>();
      if (info.isLeader()) {
        for (CommitInfoProto commit : division.getCommitInfos()) {
          commits.put(commit.getServer().getId().toStringUtf8(), commit.getCommitIndex());
        }
      }
      RaftPeerId leader = info.getLeaderId();
      return new Status(
          self.toString(),
          info.isLeader(),
          info.getCurrentTerm(),
          info.getLastAppliedIndex(),
          leader == null ? null : leader.toString(),
          commits);
    } catch (IOException e) {
      return new Status(self.toString(), false, 0, 0, null, Map.of());
    }
  }

  @Override
  public void close() {
    readRounds.shutdownNow();
    try {
      server.close();
    } catch (IOException e) {
      logger.warning("closing the Raft server of " + nodeId + ": " + e.getMessage());
    }
  }
}
