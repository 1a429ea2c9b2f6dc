package io.shardcluster.client;

// Over 500 lines: the public data API, each call in sync and async form with its Javadoc; the work
// is in client.internal.

import static io.shardcluster.errors.ShardClusterException.requireArgument;
import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.shardcluster.client.internal.Dispatcher;
import io.shardcluster.client.internal.Dispatcher.Batching;
import io.shardcluster.client.internal.Futures;
import io.shardcluster.client.internal.MergedScan;
import io.shardcluster.client.internal.QueryRunner;
import io.shardcluster.client.internal.RetryPolicy;
import io.shardcluster.client.internal.TxnProtocol;
import io.shardcluster.errors.ErrorCode;
import io.shardcluster.errors.ShardClusterException;
import io.shardcluster.proto.v1.DeleteRequest;
import io.shardcluster.proto.v1.DeleteResponse;
import io.shardcluster.proto.v1.GetRequest;
import io.shardcluster.proto.v1.GetResponse;
import io.shardcluster.proto.v1.MultiGetRequest;
import io.shardcluster.proto.v1.MultiGetResponse;
import io.shardcluster.proto.v1.MultiPutRequest;
import io.shardcluster.proto.v1.MultiPutResponse;
import io.shardcluster.proto.v1.PutRequest;
import io.shardcluster.proto.v1.PutResponse;
import io.shardcluster.query.Values;
import io.shardcluster.routing.KeyHash;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.Route;
import io.shardcluster.routing.RoutingTable;
import io.shardcluster.rpc.DaemonThreads;
import io.shardcluster.rpc.GroupOwners;
import io.shardcluster.rpc.HostPort;
import io.shardcluster.rpc.Limits;
import io.shardcluster.rpc.NodeChannels;
import io.shardcluster.rpc.RoutingCache;
import io.shardcluster.rpc.UnaryFuture;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A client of a shard cluster. It asks the coordinator for the routing table once, follows its
 * changes over a watch stream, and sends every request straight to the shard node that owns the
 * key. When a node answers that the key has moved, or cannot be reached, the client refreshes its
 * table and retries, within the request timeout. While the coordinator is down, requests keep
 * working with the table the client already has.
 *
 * <p>Thread-safe; share one instance. Failures are {@link ShardClusterException}s. Futures of the
 * async methods complete on gRPC's I/O threads: do not block in their callbacks.
 *
 * <pre>{@code
 * try (ShardClient client = ShardClient.builder().coordinator("127.0.0.1:7400").build()) {
 *   client.put("user:42", "ada");
 *   Optional<String> name = client.get("user:42");
 * }
 * }</pre>
 */
public final class ShardClient implements AutoCloseable {
  private final String coordinatorAddress;
  private final Duration requestTimeout;
  private final Duration scanTimeout;
  private final RetryPolicy retryPolicy;
  private final ManagedChannel coordinatorChannel;
  private final NodeChannels nodeChannels;
  private final ScheduledExecutorService scheduler;
  private final RoutingCache routing;
  private final GroupOwners groups;
  private final Dispatcher dispatcher;
  private final QueryRunner queries;
  private final ClusterAdmin admin;
  private final TxnProtocol transactions;
  private final Duration transactionTimeout;
  private final int transactionAttempts;
  // The keyspace the data methods use; views made by keyspace(name) share everything else.
  private final String keyspace;
  private final boolean ownsResources;

  private ShardClient(Builder builder) {
    this.keyspace = Keyspace.DEFAULT;
    this.ownsResources = true;
    this.coordinatorAddress =
        requireNonNull(builder.coordinator, "a coordinator address is required").toString();
    this.requestTimeout = builder.requestTimeout;
    this.scanTimeout = builder.scanTimeout;
    this.retryPolicy = builder.retryPolicy;
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(
            DaemonThreads.named("shardcluster-client-scheduler"));
    this.nodeChannels =
        builder.channelFactory == null
            ? NodeChannels.netty(builder.ioThreads)
            : new NodeChannels(builder.channelFactory);
    this.coordinatorChannel = nodeChannels.channel(coordinatorAddress);
    this.routing =
        new RoutingCache(coordinatorChannel, coordinatorAddress, requestTimeout, scheduler);
    this.groups =
        new GroupOwners(
            nodeChannels, coordinatorAddress, requestTimeout, builder.directoryCacheSize);
    this.dispatcher = new Dispatcher(routing, groups, nodeChannels, retryPolicy, scheduler);
    this.queries = new QueryRunner(routing, groups, nodeChannels, retryPolicy);
    this.admin = new ClusterAdmin(nodeChannels, coordinatorAddress, requestTimeout);
    this.transactions = new TxnProtocol(dispatcher, routing, nodeChannels);
    this.transactionTimeout = builder.transactionTimeout;
    this.transactionAttempts = builder.transactionAttempts;
    routing.watch();
  }

  private ShardClient(ShardClient parent, String keyspace) {
    this.keyspace = keyspace;
    this.ownsResources = false;
    this.coordinatorAddress = parent.coordinatorAddress;
    this.requestTimeout = parent.requestTimeout;
    this.scanTimeout = parent.scanTimeout;
    this.retryPolicy = parent.retryPolicy;
    this.coordinatorChannel = parent.coordinatorChannel;
    this.nodeChannels = parent.nodeChannels;
    this.scheduler = parent.scheduler;
    this.routing = parent.routing;
    this.groups = parent.groups;
    this.dispatcher = parent.dispatcher;
    this.queries = parent.queries;
    this.admin = parent.admin;
    this.transactions = parent.transactions;
    this.transactionTimeout = parent.transactionTimeout;
    this.transactionAttempts = parent.transactionAttempts;
  }

  /**
   * A view of this client whose data methods (get, put, delete, multi-get, multi-put, scan, route)
   * use the named keyspace; it shares this client's connections and routing, and closing it does
   * nothing. Fetches the routing table once if the keyspace is not in it yet; NOT_FOUND if there is
   * no such keyspace.
   */
  public ShardClient keyspace(String name) {
    Keyspace.checkName(name);
    if (!routing.current().keyspaces().containsKey(name)) {
      refreshRoutingTable().keyspace(name);
    }
    return new ShardClient(this, name);
  }

  /** The keyspace the data methods use: {@code default} unless this is a keyspace view. */
  public String keyspaceName() {
    return keyspace;
  }

  /** A builder; {@link Builder#coordinator(String)} is required. */
  public static Builder builder() {
    return new Builder();
  }

  // ---- single keys ----

  /** The value of a key, or empty if it has none. */
  public Optional<byte[]> get(byte[] key) {
    return await(getAsync(key));
  }

  /** The value of a UTF-8 key decoded as UTF-8, or empty if it has none. */
  public Optional<String> get(String key) {
    return get(utf8(key)).map(value -> new String(value, StandardCharsets.UTF_8));
  }

  /** Async form of {@link #get(byte[])}. */
  public CompletableFuture<Optional<byte[]>> getAsync(byte[] key) {
    Limits.checkKey(key.length);
    GetRequest.Builder request = GetRequest.newBuilder().setKeyspace(keyspace).setKey(wrap(key));
    List<Optional<byte[]>> result = new ArrayList<>(List.of(Optional.empty()));
    return dispatcher
        .dispatch(
            keyspace,
            false,
            List.of(key),
            Function.identity(),
            Batching.single(),
            (node, batch, epoch) -> {
              UnaryFuture<GetResponse> call = new UnaryFuture<>();
              node.get(request.setEpoch(epoch).build(), call);
              return call.thenAccept(
                  response ->
                      result.set(
                          0,
                          response.getFound()
                              ? Optional.of(response.getValue().toByteArray())
                              : Optional.empty()));
            },
            deadline())
        .thenApply(done -> result.get(0));
  }

  /** Sets a key's value. The write is durable on its node when this returns. */
  public void put(byte[] key, byte[] value) {
    await(putAsync(key, value));
  }

  /** Sets a UTF-8 key to a UTF-8 value. */
  public void put(String key, String value) {
    put(utf8(key), utf8(value));
  }

  /** Async form of {@link #put(byte[], byte[])}. */
  public CompletableFuture<Void> putAsync(byte[] key, byte[] value) {
    Limits.checkKey(key.length);
    Limits.checkValue(value.length);
    PutRequest.Builder request =
        PutRequest.newBuilder().setKeyspace(keyspace).setKey(wrap(key)).setValue(wrap(value));
    return dispatcher.dispatch(
        keyspace,
        true,
        List.of(key),
        Function.identity(),
        Batching.single(),
        (node, batch, epoch) -> {
          UnaryFuture<PutResponse> call = new UnaryFuture<>();
          node.put(request.setEpoch(epoch).build(), call);
          return call.thenAccept(response -> {});
        },
        deadline());
  }

  /** Removes a key; removing an absent key is not an error. */
  public void delete(byte[] key) {
    await(deleteAsync(key));
  }

  /** Removes a UTF-8 key. */
  public void delete(String key) {
    delete(utf8(key));
  }

  /** Async form of {@link #delete(byte[])}. */
  public CompletableFuture<Void> deleteAsync(byte[] key) {
    Limits.checkKey(key.length);
    DeleteRequest.Builder request =
        DeleteRequest.newBuilder().setKeyspace(keyspace).setKey(wrap(key));
    return dispatcher.dispatch(
        keyspace,
        false,
        List.of(key),
        Function.identity(),
        Batching.single(),
        (node, batch, epoch) -> {
          UnaryFuture<DeleteResponse> call = new UnaryFuture<>();
          node.delete(request.setEpoch(epoch).build(), call);
          return call.thenAccept(response -> {});
        },
        deadline());
  }

  // ---- transactions ----

  /**
   * Begins a serializable transaction whose single-key methods use this client's keyspace; it must
   * commit within the transaction timeout (default 10 s). See {@link Transaction}.
   */
  public Transaction begin() {
    return begin(Instant.now());
  }

  private Transaction begin(Instant firstStart) {
    long micros = firstStart.getEpochSecond() * 1_000_000 + firstStart.getNano() / 1_000;
    return new Transaction(
        transactions, keyspace, transactionTimeout.toNanos(), requestTimeout.toNanos(), micros);
  }

  /**
   * Runs the work in a transaction and commits it; returns what the work returned. If the
   * transaction aborts (a conflict, a lost lock, a node that could not be reached before the
   * commit), the work runs again in a new transaction, after a backoff, up to the attempts set with
   * {@link Builder#transactionAttempts} (default 30); a retried transaction keeps its age, so it
   * wins conflicts with younger ones. The work must not have effects outside the transaction, since
   * it may run more than once. An exception thrown by the work rolls back and is rethrown.
   */
  public <T> T transactionResult(Function<Transaction, T> work) {
    Instant firstStart = Instant.now();
    ShardClusterException last = null;
    for (int attempt = 0; attempt < transactionAttempts; attempt++) {
      if (attempt > 0) {
        backOff(attempt);
      }
      try (Transaction tx = begin(firstStart)) {
        T result = work.apply(tx);
        tx.commit();
        return result;
      } catch (TransactionOutcomeUnknownException e) {
        throw e;
      } catch (ShardClusterException e) {
        if (e.code() != ErrorCode.ABORTED
            && e.code() != ErrorCode.UNAVAILABLE
            && e.code() != ErrorCode.WRONG_SHARD) {
          throw e;
        }
        last = e;
      }
    }
    throw new ShardClusterException(
        requireNonNull(last).code(),
        "the transaction did not commit in "
            + transactionAttempts
            + " attempts: "
            + last.getMessage(),
        last);
  }

  /** Runs the work in a transaction and commits it, as {@link #transactionResult}. */
  public void transaction(Consumer<Transaction> work) {
    var unused =
        transactionResult(
            tx -> {
              work.accept(tx);
              return true;
            });
  }

  private static void backOff(int attempt) {
    long cap = Math.min(200, 2L << Math.min(attempt, 10));
    try {
      TimeUnit.MILLISECONDS.sleep(cap / 2 + ThreadLocalRandom.current().nextLong(cap / 2 + 1));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ShardClusterException(ErrorCode.CANCELLED, "interrupted");
    }
  }

  // ---- batches ----

  /**
   * The values of many keys, in the order of the keys (empty where a key has none). Keys are
   * grouped by owner and the groups fetched in parallel.
   */
  public List<Optional<byte[]>> multiGet(List<byte[]> keys) {
    return await(multiGetAsync(keys));
  }

  /** Async form of {@link #multiGet(List)}. */
  public CompletableFuture<List<Optional<byte[]>>> multiGetAsync(List<byte[]> keys) {
    List<Integer> indexes = new ArrayList<>(keys.size());
    for (int i = 0; i < keys.size(); i++) {
      Limits.checkKey(keys.get(i).length);
      indexes.add(i);
    }
    @SuppressWarnings({"unchecked", "rawtypes"}) // an array of a generic type cannot be made
    Optional<byte[]>[] results = new Optional[keys.size()];
    Arrays.fill(results, Optional.empty());
    return dispatcher
        .dispatch(
            keyspace,
            false,
            indexes,
            keys::get,
            new Batching<>(
                Limits.MAX_BATCH_ENTRIES, Limits.MAX_MESSAGE_BYTES / 2, i -> keys.get(i).length),
            (node, batch, epoch) -> {
              MultiGetRequest.Builder request =
                  MultiGetRequest.newBuilder().setKeyspace(keyspace).setEpoch(epoch);
              batch.forEach(i -> request.addKeys(wrap(keys.get(i))));
              UnaryFuture<MultiGetResponse> call = new UnaryFuture<>();
              node.multiGet(request.build(), call);
              return call.thenAccept(
                  response -> {
                    for (int j = 0; j < batch.size(); j++) {
                      GetResponse one = response.getResults(j);
                      if (one.getFound()) {
                        results[batch.get(j)] = Optional.of(one.getValue().toByteArray());
                      }
                    }
                  });
            },
            deadline())
        .thenApply(done -> List.of(results));
  }

  /**
   * Writes many entries: grouped by owner, each group applied atomically on its node, the groups in
   * parallel. If it fails, some groups may have been applied.
   */
  public void multiPut(List<KeyValue> entries) {
    await(multiPutAsync(entries));
  }

  /** Writes many UTF-8 entries. */
  public void multiPut(Map<String, String> entries) {
    List<KeyValue> list = new ArrayList<>(entries.size());
    entries.forEach((k, v) -> list.add(KeyValue.of(k, v)));
    multiPut(list);
  }

  /** Async form of {@link #multiPut(List)}. */
  public CompletableFuture<Void> multiPutAsync(List<KeyValue> entries) {
    for (KeyValue entry : entries) {
      Limits.checkKey(entry.key().length);
      Limits.checkValue(entry.value().length);
    }
    return dispatcher.dispatch(
        keyspace,
        true,
        entries,
        KeyValue::key,
        new Batching<>(
            Limits.MAX_BATCH_ENTRIES,
            Limits.MAX_MESSAGE_BYTES / 2,
            e -> e.key().length + e.value().length),
        (node, batch, epoch) -> {
          MultiPutRequest.Builder request =
              MultiPutRequest.newBuilder().setKeyspace(keyspace).setEpoch(epoch);
          for (KeyValue entry : batch) {
            request.addEntriesBuilder().setKey(wrap(entry.key())).setValue(wrap(entry.value()));
          }
          UnaryFuture<MultiPutResponse> call = new UnaryFuture<>();
          node.multiPut(request.build(), call);
          return call.thenAccept(response -> {});
        },
        deadline());
  }

  // ---- scans ----

  /**
   * Rows across all nodes in the keyspace's scan order, streamed: nodes send rows as the iterator
   * is consumed. A range keyspace returns keys in key order and reads only the ranges in {@code
   * [from, to)}. A hash keyspace returns them in position order (the hash of the key; ties by key),
   * as Cassandra's token order does, and bounds other than a single key filter a walk of every key:
   * key-ordered scans are what range keyspaces are for. A directory keyspace returns each group's
   * keys together, in key order. Close the iterator if you stop early.
   */
  public KeyValueIterator scan(ScanOptions options) {
    return new MergedScan(
        routing,
        nodeChannels,
        retryPolicy,
        keyspace,
        ByteString.copyFrom(options.from()),
        ByteString.copyFrom(options.to()),
        options.limit(),
        scanTimeout);
  }

  // ---- documents and queries ----

  /**
   * Stores a JSON object as the key's value (compacted), so queries can read its fields. Fails with
   * INVALID_ARGUMENT, storing nothing, unless {@code json} is one JSON object.
   */
  public void putDocument(String key, String json) {
    JsonNode document;
    try {
      document = Values.fromJson(json);
    } catch (IllegalArgumentException e) {
      throw ShardClusterException.invalidArgument("the document is " + e.getMessage());
    }
    ShardClusterException.requireArgument(
        document != null && document.isObject(), "a document must be a JSON object {...}");
    put(
        key.getBytes(StandardCharsets.UTF_8),
        Values.toJson(document).getBytes(StandardCharsets.UTF_8));
  }

  /**
   * The key's value as a document; empty if the key is absent or its value is not a JSON object.
   */
  public Optional<JsonNode> getDocument(String key) {
    return get(key.getBytes(StandardCharsets.UTF_8)).map(Values::document);
  }

  /**
   * Runs a query ({@code SELECT ... FROM keyspace ...}, see README) across the nodes: each filters,
   * projects, aggregates and cuts its own rows; the client merges. Fails with the nodes that did
   * not answer, unless {@link QueryOptions#allowPartial()}. A plain query (no aggregates, no ORDER
   * BY) on a hash or range keyspace returns at once and streams: its rows, and such a failure, come
   * as the result is read (see {@link QueryResult}).
   */
  public QueryResult query(String sql, QueryOptions options) {
    return queries.run(sql, options);
  }

  /** Runs a query with {@link QueryOptions#DEFAULTS}. */
  public QueryResult query(String sql) {
    return query(sql, QueryOptions.DEFAULTS);
  }

  /** The plan of a query, without running it: the nodes it would ask and what each would do. */
  public QueryPlan explain(String sql) {
    return queries.explain(sql);
  }

  // ---- routing and administration ----

  /**
   * Where a key lives under the client's current routing table. In a directory keyspace the owner
   * is that of the key's group, looked up; it is empty if the group has no entry yet (its first
   * write will place it).
   */
  public Route route(byte[] key) {
    Limits.checkKey(key.length);
    RoutingTable table = routing.current();
    Keyspace routed = table.keyspace(keyspace);
    if (!routed.isDirectory()) {
      return table.route(keyspace, key);
    }
    ByteString group = routed.grouping().groupOf(key);
    String owner = groups.owner(keyspace, routed.grouping().version(), group);
    return Route.ofGroup(
        keyspace,
        group,
        owner,
        table.address(owner).orElse(""),
        KeyHash.position(key),
        table.epoch());
  }

  /** The routing table the client routes with, fetching it first if it has none. */
  public RoutingTable routingTable() {
    return routing.current();
  }

  /** Fetches the coordinator's routing table now and returns the newest known. */
  public RoutingTable refreshRoutingTable() {
    return await(routing.refresh());
  }

  /** Operator commands: nodes, directory. */
  public ClusterAdmin admin() {
    return admin;
  }

  /** The coordinator address this client was built with. */
  public String coordinatorAddress() {
    return coordinatorAddress;
  }

  @Override
  public void close() {
    if (!ownsResources) {
      return;
    }
    routing.close();
    nodeChannels.close();
    scheduler.shutdownNow();
  }

  private Deadline deadline() {
    return Deadline.after(requestTimeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  private static ByteString wrap(byte[] bytes) {
    return UnsafeByteOperations.unsafeWrap(bytes);
  }

  private static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  static <T> T await(CompletableFuture<T> future) {
    return Futures.await(future);
  }

  /** Configures a {@link ShardClient}. */
  public static final class Builder {
    private @Nullable HostPort coordinator;
    private Duration requestTimeout = Duration.ofSeconds(5);
    private Duration scanTimeout = Duration.ofMinutes(10);
    private RetryPolicy retryPolicy = RetryPolicy.DEFAULT;
    private int ioThreads = Runtime.getRuntime().availableProcessors();
    private @Nullable Function<String, ManagedChannel> channelFactory;
    private long directoryCacheSize = 100_000;
    private Duration transactionTimeout = Duration.ofSeconds(10);
    private int transactionAttempts = 30;

    private Builder() {}

    /**
     * How long a transaction may run from its begin to its commit (default 10 s); the nodes abort
     * it after that, and release its locks.
     */
    public Builder transactionTimeout(Duration timeout) {
      requireArgument(
          timeout != null && !timeout.isNegative() && !timeout.isZero(),
          "transaction timeout must be positive");
      requireArgument(
          timeout.toMillis() <= 600_000, "transaction timeout must be at most 10 minutes");
      this.transactionTimeout = timeout;
      return this;
    }

    /** How many times {@link ShardClient#transaction} runs its work at most (default 30). */
    public Builder transactionAttempts(int attempts) {
      requireArgument(attempts >= 1, "transactionAttempts must be at least 1, got %s", attempts);
      this.transactionAttempts = attempts;
      return this;
    }

    /** The coordinator's {@code host:port}. Required. */
    public Builder coordinator(String hostPort) {
      this.coordinator = HostPort.parse(hostPort);
      return this;
    }

    /**
     * How long one operation may take, retries included (default 5 s). Also the deadline of each
     * routing fetch.
     */
    public Builder requestTimeout(Duration timeout) {
      requireArgument(
          timeout != null && !timeout.isNegative() && !timeout.isZero(),
          "request timeout must be positive");
      this.requestTimeout = timeout;
      return this;
    }

    /** How long a scan stream may stay open (default 10 minutes). */
    public Builder scanTimeout(Duration timeout) {
      requireArgument(
          timeout != null && !timeout.isNegative() && !timeout.isZero(),
          "scan timeout must be positive");
      this.scanTimeout = timeout;
      return this;
    }

    /**
     * Attempts per operation, first included (default 40; the request timeout often ends them
     * first).
     */
    public Builder maxAttempts(int attempts) {
      this.retryPolicy =
          new RetryPolicy(
              attempts,
              retryPolicy.unavailableRetries(),
              retryPolicy.initialBackoff(),
              retryPolicy.maxBackoff());
      return this;
    }

    /** The whole retry policy, backoff included (for tests). */
    Builder retryPolicy(RetryPolicy policy) {
      this.retryPolicy = policy;
      return this;
    }

    /**
     * Network I/O threads shared by the client's channels (default: one per core). Responses are
     * decoded on them; the fewer there are, the fewer cross-thread wake-ups per request.
     */
    public Builder ioThreads(int threads) {
      requireArgument(threads >= 1, "ioThreads must be at least 1, got %s", threads);
      this.ioThreads = threads;
      return this;
    }

    /**
     * The most directory-keyspace group entries the client caches (default 100,000); a lookup of a
     * group not cached asks the coordinator.
     */
    public Builder directoryCacheSize(long entries) {
      requireArgument(entries >= 1, "directoryCacheSize must be at least 1, got %s", entries);
      this.directoryCacheSize = entries;
      return this;
    }

    /** How to open a channel to an address; for tests with in-process transports. */
    public Builder channelFactory(Function<String, ManagedChannel> factory) {
      this.channelFactory = factory;
      return this;
    }

    /** The client. Does not contact the cluster until the first request. */
    public ShardClient build() {
      requireArgument(coordinator != null, "the coordinator address is required");
      return new ShardClient(this);
    }
  }
}
