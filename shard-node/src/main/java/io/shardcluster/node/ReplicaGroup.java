package io.shardcluster.node;

import io.grpc.Context;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.NotLeaderException;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.FetchStoreRequest;
import io.shardcluster.proto.v1.ReplicasGrpc;
import io.shardcluster.proto.v1.StoreChunk;
import io.shardcluster.proto.v1.StoreRow;
import io.shardcluster.rpc.DaemonThreads;
import io.shardcluster.rpc.HostPort;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.server.FileTrees;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
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
import java.util.concurrent.atomic.AtomicReference;
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
import org.apache.ratis.protocol.SetConfigurationRequest;
import org.apache.ratis.protocol.TransferLeadershipRequest;
import org.apache.ratis.protocol.exceptions.RaftException;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;
import org.jspecify.annotations.Nullable;

/**
 * This process's place in its shard's replica group, on Apache Ratis: every write batch of the
 * store goes through the group's log ({@link LocalStore.WriteLog}) and is acknowledged once a
 * majority has it on disk and this replica applied it; reads are confirmed by a read-index round
 * (or the leader's lease) shared by concurrent reads ({@link ReadBarrier}). The log is compacted
 * behind snapshots of the store; a replica that needs entries it no longer holds fetches the
 * leader's store ({@link StoreStateMachine}).
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
  private static final Duration TRANSFER_TIMEOUT = Duration.ofSeconds(10);
  static final long SNAPSHOT_EVERY = 100_000;
  static final long LOG_KEPT = 20_000;
  static final long LOG_SEGMENT_BYTES = 8L << 20;

  /** What the coordinator and operators see of a replica. */
  record Status(
      String replicaId,
      boolean leader,
      long term,
      long appliedIndex,
      @Nullable String leaderId,
      Map<String, Long> peerCommitIndexes,
      List<GroupPeer> members) {}

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
      NodeChannels channels,
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
    List<RaftPeer> raftPeers = peers.stream().map(ReplicaGroup::raftPeer).toList();
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
    // A process that is not (yet) a member, or back from a partition, asks the others before it
    // starts an election, so that it cannot depose a working leader with a higher term (a new
    // replica started before the leader adds it to the group, say).
    RaftServerConfigKeys.LeaderElection.setPreVote(properties, true);
    // Ratis's leader waits up to 10 ms by default for more entries before it sends them to the
    // followers; a write waits for that. 1 ms (0 makes it spin on a core while idle).
    RaftServerConfigKeys.Log.Appender.setWaitTimeMin(
        properties, TimeDuration.valueOf(1, TimeUnit.MILLISECONDS));
    // Log compaction: every SNAPSHOT_EVERY entries the store is made durable and recorded as a
    // snapshot, and the log before it deleted but for the last LOG_KEPT entries (so that a
    // replica back after a short absence still catches up from the log). A replica further behind
    // is told to install a snapshot, which it fetches from the leader (StoreStateMachine).
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(properties, true);
    RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(properties, SNAPSHOT_EVERY);
    RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(properties, true);
    properties.setLong(RaftServerConfigKeys.Log.PURGE_PRESERVATION_LOG_NUM_KEY, LOG_KEPT);
    RaftServerConfigKeys.Log.setSegmentSizeMax(properties, SizeInBytes.valueOf(LOG_SEGMENT_BYTES));
    RaftServerConfigKeys.Log.Appender.setInstallSnapshotEnabled(properties, false);
    // Any Ratis setting can be given as a JVM system property (-Draft.server.rpc.timeout.min=2s):
    // for tuning and experiments, applied over the settings above.
    for (String name : System.getProperties().stringPropertyNames()) {
      if (name.startsWith("raft.")) {
        properties.set(name, System.getProperty(name));
      }
    }
    Path groupDir = dir.resolve(groupId.getUuid().toString());
    if (store.installInterrupted()) {
      // Part of a leader's store and nothing else: start over as a new replica, log and all.
      logger.warning(
          nodeId + " replica " + selfId + " died installing a snapshot: starting over empty");
      store.clearInterruptedInstall();
      FileTrees.delete(groupDir);
    }
    boolean formatted = Files.isDirectory(groupDir);
    // The leader's client address, from the group's current configuration (it may have changed
    // since this process started: see replace).
    AtomicReference<@Nullable RaftServer> running = new AtomicReference<>();
    StoreStateMachine machine =
        new StoreStateMachine(
            store,
            leader -> leadership.accept(self.equals(leader)),
            leader ->
                fetchStore(
                    nodeId,
                    selfId,
                    clientAddress(running.get(), groupId, leader),
                    store,
                    channels));
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
      running.set(server);
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

  private static RaftPeer raftPeer(GroupPeer peer) {
    return RaftPeer.newBuilder()
        .setId(peer.id())
        .setAddress(peer.raftAddress())
        .setClientAddress(peer.address().toString())
        .build();
  }

  private static GroupPeer groupPeer(RaftPeer peer) {
    HostPort raft = HostPort.parse(peer.getAddress());
    return new GroupPeer(
        peer.getId().toString(), HostPort.parse(peer.getClientAddress()), raft.port());
  }

  private static String clientAddress(
      @Nullable RaftServer server, RaftGroupId groupId, RaftPeerId replica) {
    try {
      RaftPeer peer =
          server == null ? null : server.getDivision(groupId).getRaftConf().getPeer(replica);
      if (peer == null) {
        throw ShardClusterException.unavailable(
            "replica " + replica + " is not in the group's configuration");
      }
      return peer.getClientAddress();
    } catch (IOException e) {
      throw ShardClusterException.unavailable("the Raft server is not running: " + e.getMessage());
    }
  }

  /** Replaces the store with the leader's whole store, streamed from it. */
  private static LocalStore.LogPosition fetchStore(
      String nodeId, String selfId, String leader, LocalStore store, NodeChannels channels) {
    Iterator<StoreChunk> chunks =
        ReplicasGrpc.newBlockingStub(channels.channel(leader))
            .fetchStore(FetchStoreRequest.newBuilder().setReplicaId(selfId).build());
    LocalStore.StoreInstall install = store.beginInstall();
    long rows = 0;
    while (chunks.hasNext()) {
      StoreChunk chunk = chunks.next();
      if (chunk.getDone()) {
        LocalStore.LogPosition position =
            new LocalStore.LogPosition(chunk.getAppliedTerm(), chunk.getAppliedIndex());
        install.finish(position);
        logger.info(
            nodeId
                + " replica "
                + selfId
                + " installed "
                + rows
                + " rows from the leader at "
                + leader
                + ", log entry "
                + position.index());
        return position;
      }
      List<byte[]> keys = new ArrayList<>(chunk.getRowsCount());
      List<byte[]> values = new ArrayList<>(chunk.getRowsCount());
      for (StoreRow row : chunk.getRowsList()) {
        keys.add(row.getKey().toByteArray());
        values.add(row.getValue().toByteArray());
      }
      install.rows(chunk.getFamily(), keys, values);
      rows += keys.size();
    }
    throw ShardClusterException.unavailable(
        nodeId + ": the leader's store ended before its last entry");
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

  /** Appends one entry; {@link GroupCommit} in front of it joins concurrent writers' batches. */
  @Override
  public void append(byte[] batch) {
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

  /**
   * On the leader: replaces member {@code oldId} by {@code added} (a Raft configuration change,
   * through the log); returns the members once the new configuration is committed. The new process
   * must run with the new peer list; it installs the leader's store and catches up on its own.
   */
  List<GroupPeer> replace(String oldId, GroupPeer added) {
    RaftServer.Division division = leaderDivision();
    List<RaftPeer> current = List.copyOf(division.getRaftConf().getCurrentPeers());
    List<String> ids = current.stream().map(peer -> peer.getId().toString()).sorted().toList();
    if (!ids.contains(oldId)) {
      throw new ShardClusterException(
          ErrorCode.NOT_FOUND,
          nodeId + " has no replica " + oldId + " (its replicas: " + ids + ")");
    }
    if (ids.contains(added.id())) {
      throw new ShardClusterException(
          ErrorCode.ALREADY_EXISTS,
          nodeId + " already has a replica " + added.id() + " (its replicas: " + ids + ")");
    }
    if (oldId.equals(self.toString())) {
      throw new ShardClusterException(
          ErrorCode.FAILED_PRECONDITION,
          nodeId
              + "'s replica "
              + oldId
              + " leads the group: stop it (another one takes over) and replace it then");
    }
    List<RaftPeer> next = new ArrayList<>();
    for (RaftPeer peer : current) {
      if (!peer.getId().toString().equals(oldId)) {
        next.add(peer);
      }
    }
    next.add(raftPeer(added));
    logger.info(nodeId + ": replacing replica " + oldId + " by " + added);
    RaftClientReply reply;
    try {
      reply =
          server.setConfiguration(
              new SetConfigurationRequest(
                  clientId, self, group.getGroupId(), callIds.incrementAndGet(), next));
    } catch (IOException e) {
      throw ShardClusterException.unavailable(
          nodeId + " could not change its replicas: " + e.getMessage());
    }
    if (!reply.isSuccess()) {
      throw failure(reply.getException());
    }
    logger.info(nodeId + ": replica " + oldId + " replaced by " + added);
    return next.stream().map(ReplicaGroup::groupPeer).toList();
  }

  /**
   * On the leader: hands the leadership to member {@code target} (Ratis brings it up to date, then
   * it starts an election at once); returns once it leads. Nothing to do if this replica is it.
   */
  void transferLeadership(String target) {
    RaftServer.Division division = leaderDivision();
    if (target.equals(self.toString())) {
      return;
    }
    RaftPeerId targetId = RaftPeerId.valueOf(target);
    if (division.getRaftConf().getPeer(targetId) == null) {
      throw new ShardClusterException(
          ErrorCode.NOT_FOUND, nodeId + " has no replica " + target + " to hand the leadership to");
    }
    logger.info(nodeId + ": handing the leadership to replica " + target);
    RaftClientReply reply;
    try {
      reply =
          server.transferLeadership(
              new TransferLeadershipRequest(
                  clientId,
                  self,
                  group.getGroupId(),
                  callIds.incrementAndGet(),
                  targetId,
                  TRANSFER_TIMEOUT.toMillis()));
    } catch (IOException e) {
      throw ShardClusterException.unavailable(
          nodeId + " could not hand the leadership to " + target + ": " + e.getMessage());
    }
    if (!reply.isSuccess()) {
      throw failure(reply.getException());
    }
  }

  /** This replica's Raft division, if it leads; NOT_LEADER or UNAVAILABLE otherwise. */
  private RaftServer.Division leaderDivision() {
    RaftServer.Division division;
    try {
      division = server.getDivision(group.getGroupId());
    } catch (IOException e) {
      throw ShardClusterException.unavailable(nodeId + ": the Raft server is not running");
    }
    if (!division.getInfo().isLeader()) {
      throw notLeader();
    }
    return division;
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
      List<GroupPeer> members =
          division.getRaftConf().getCurrentPeers().stream()
              .map(ReplicaGroup::groupPeer)
              .sorted(java.util.Comparator.comparing(GroupPeer::id))
              .toList();
      return new Status(
          self.toString(),
          info.isLeader(),
          info.getCurrentTerm(),
          info.getLastAppliedIndex(),
          leader == null ? null : leader.toString(),
          commits,
          members);
    } catch (IOException e) {
      return new Status(self.toString(), false, 0, 0, null, Map.of(), List.of());
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
