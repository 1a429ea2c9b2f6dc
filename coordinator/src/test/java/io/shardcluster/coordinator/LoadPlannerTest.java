package io.shardcluster.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.shardcluster.routing.Directory;
import io.shardcluster.routing.DirectoryEntry;
import io.shardcluster.routing.HashRing;
import io.shardcluster.routing.Keyspace;
import io.shardcluster.routing.TokenAllocator;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LoadPlannerTest {
  private static HashRing threeEven() {
    HashRing ring = HashRing.empty();
    for (String node : List.of("n1", "n2", "n3")) {
      ring = TokenAllocator.join(ring, node, 16);
    }
    return ring;
  }

  private static DirectoryEntry tenant(String name, String owner) {
    return new DirectoryEntry(ByteString.copyFromUtf8(name + ":"), true, owner);
  }

  @Test
  void plan_heavyTenantsOnOneNode_movesWholeEntriesToTheOthers() {
    List<DirectoryEntry> tenants = List.of(tenant("a", "n1"), tenant("b", "n1"), tenant("c", "n1"));
    Keyspace keyspace = new Keyspace(Keyspace.DEFAULT, threeEven(), Directory.of(tenants));
    // Each node holds 1,000 hash-placed keys; n1 also holds three tenants of 1,000 keys.
    Map<String, Double> loads =
        new LinkedHashMap<>(Map.of("n1", 4000.0, "n2", 1000.0, "n3", 1000.0));
    List<LoadPlanner.EntryLoad> entries = new ArrayList<>();
    tenants.forEach(t -> entries.add(new LoadPlanner.EntryLoad(t, 1000)));

    LoadPlanner.Plan plan = LoadPlanner.plan(keyspace, loads, entries, 0.05);

    assertThat(plan.maxOverMeanBefore()).isEqualTo(2.0);
    assertThat(plan.maxOverMeanAfter()).isLessThanOrEqualTo(1.05);
    assertThat(plan.moves()).allSatisfy(move -> assertThat(move.source()).isEqualTo("n1"));
    assertThat(plan.moves().stream().mapToInt(m -> m.moving().entries().size()).sum()).isEqualTo(2);
  }

  @Test
  void plan_hashSkew_cutsASliceOfTheRightSize() {
    Keyspace keyspace = Keyspace.hash(Keyspace.DEFAULT).withRing(threeEven());
    Map<String, Double> loads = new LinkedHashMap<>(Map.of("n1", 1600.0, "n2", 700.0, "n3", 700.0));

    LoadPlanner.Plan plan = LoadPlanner.plan(keyspace, loads, List.of(), 0.05);

    assertThat(plan.maxOverMeanAfter()).isLessThanOrEqualTo(1.05);
    double moved = plan.moves().stream().mapToDouble(LoadPlanner.Move::load).sum();
    assertThat(moved).isBetween(500.0, 650.0);
    // n1 carries 1,600 keys on a third of the ring: 600 keys is 12.5% of the positions.
    double share = plan.moves().stream().mapToDouble(m -> m.moving().share()).sum();
    assertThat(share).isBetween(0.10, 0.135);
  }

  @Test
  void plan_balancedCluster_movesNothing() {
    Keyspace keyspace = Keyspace.hash(Keyspace.DEFAULT).withRing(threeEven());
    Map<String, Double> loads =
        new LinkedHashMap<>(Map.of("n1", 1010.0, "n2", 1000.0, "n3", 990.0));

    assertThat(LoadPlanner.plan(keyspace, loads, List.of(), 0.05).moves()).isEmpty();
  }

  @Test
  void plan_loadStuckInOneEntry_movesTheRingShareOnce_withoutSliversAfterIt() {
    DirectoryEntry hot = tenant("hot", "n1");
    Keyspace keyspace = new Keyspace(Keyspace.DEFAULT, threeEven(), Directory.of(List.of(hot)));
    // n1 holds a tenant of 30,000 keys; every node 1,000 hash-placed keys.
    Map<String, Double> loads =
        new LinkedHashMap<>(Map.of("n1", 31000.0, "n2", 1000.0, "n3", 1000.0));

    LoadPlanner.Plan plan =
        LoadPlanner.plan(keyspace, loads, List.of(new LoadPlanner.EntryLoad(hot, 30000)), 0.2);

    // Nothing brings n1 near the mean; its ring keys go, in one move, and what is left of its
    // positions is not cut again into migrations of a key or none.
    assertThat(plan.moves()).hasSize(1);
    assertThat(plan.moves().get(0).source()).isEqualTo("n1");
    assertThat(plan.moves().get(0).load()).isGreaterThan(999.9);
    assertThat(plan.maxOverMeanAfter()).isGreaterThan(2.7);
  }

  @Test
  void plan_aSmallMoveThatBringsTheNodeWithinTheThreshold_isMade() {
    DirectoryEntry hot = tenant("hot", "n1");
    Keyspace keyspace = new Keyspace(Keyspace.DEFAULT, threeEven(), Directory.of(List.of(hot)));
    // n1 is 2 keys over the threshold (1.2 x 1,000), with 3 keys left on its ring share: moving
    // those is small, but brings it within.
    Map<String, Double> loads = new LinkedHashMap<>(Map.of("n1", 1202.0, "n2", 899.0, "n3", 899.0));

    LoadPlanner.Plan plan =
        LoadPlanner.plan(keyspace, loads, List.of(new LoadPlanner.EntryLoad(hot, 1199)), 0.2);

    assertThat(plan.moves()).hasSize(1);
    assertThat(plan.moves().get(0).load()).isLessThan(10);
    assertThat(plan.maxOverMeanAfter()).isLessThanOrEqualTo(1.2);
  }
}
