package io.shardcluster.shardctl;

import io.shardcluster.client.ShardClient;
import io.shardcluster.routing.Keyspace;
import picocli.CommandLine.Option;

/** Base of commands that read or write keys: they work in one keyspace. */
abstract class DataCommand extends ClusterCommand {
  @Option(
      names = "--keyspace",
      defaultValue = Keyspace.DEFAULT,
      description = "The keyspace (default: ${DEFAULT-VALUE}).")
  String keyspace;

  @Override
  final ShardClient scoped(ShardClient client) {
    return client.keyspace(keyspace);
  }
}
