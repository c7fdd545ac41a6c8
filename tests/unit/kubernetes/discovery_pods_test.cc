// Discovery with pods: a worker carries its pod from its cgroup, is named
// from pod labels once the API names the pod, and is named again when the
// pod is relabelled or deleted.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon/discovery/discovery.h"
#include "daemon/kubernetes/pod_map.h"
#include "daemon/kubernetes/pod_resolver.h"
#include "tests/unit/discovery/fake_proc.h"

namespace perfd {
namespace {

using nlohmann::json;

const std::string kUid = "0f1c2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f";
const std::string kId = "3b0f6c9ad0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b";

std::string PodEvent(const std::string& type, const std::string& label_value) {
  json labels = json::object();
  if (!label_value.empty()) labels["app.kubernetes.io/name"] = label_value;
  json pod = {{"metadata",
               {{"uid", kUid}, {"name", "shop-7d9f"}, {"namespace", "prod"}, {"labels", labels}}},
              {"status",
               {{"containerStatuses",
                 json::array({{{"name", "api"}, {"containerID", "containerd://" + kId}}})}}}};
  return json{{"type", type}, {"object", pod}}.dump();
}

class DiscoveryPodsTest : public ::testing::Test {
 protected:
  DiscoveryPodsTest()
      : reader_(tree_.root()), map_(10, {"app.kubernetes.io/name"}), pods_(tree_.root(), &map_) {
    config_.kubernetes.service_label_keys = {"app.kubernetes.io/name"};
    tree_.Add(testing::Proc(1, 0, {"/sbin/init"}));
    tree_.Add(testing::Proc(100, 1, {"python3", "-m", "uvicorn", "billing.main:app"},
                            {{"PERFD_SERVICE", "from-env"}}));
    tree_.WriteFile("100/cgroup",
                    "0::/kubepods.slice/kubepods-burstable.slice/"
                    "kubepods-burstable-pod" +
                        std::string("0f1c2d3e_4a5b_6c7d_8e9f_0a1b2c3d4e5f") +
                        ".slice/cri-containerd-" + kId + ".scope\n");
    tree_.WriteFile("1/cgroup", "0::/init.scope\n");
  }
  void Event(const std::string& type, const std::string& label) {
    std::string rv, error;
    ASSERT_EQ(map_.ApplyWatchEvent(PodEvent(type, label), &rv, &error),
              k8s::PodMap::Result::kApplied)
        << error;
  }
  Config config_;
  testing::FakeProcTree tree_;
  ProcReader reader_;
  k8s::PodMap map_;
  k8s::PodResolver pods_;
};

TEST_F(DiscoveryPodsTest, CgroupOnlyThenNamedThenRelabelledThenDeleted) {
  Discovery discovery(config_, reader_, &pods_);
  auto diff = discovery.Scan();
  ASSERT_EQ(diff.added().size(), 1u);
  Worker w = diff.added()[0];
  EXPECT_EQ(w.pod_uid, kUid);
  EXPECT_EQ(w.container_id, kId);
  EXPECT_EQ(w.k8s_pod, "");  // the API has not named it yet
  EXPECT_EQ(w.service, "from-env");

  // No pod change: a steady scan reports nothing.
  EXPECT_TRUE(discovery.Scan().changes.empty());

  Event("ADDED", "shop");
  diff = discovery.Scan();
  ASSERT_EQ(diff.removed().size(), 1u);
  ASSERT_EQ(diff.added().size(), 1u);
  w = diff.added()[0];
  EXPECT_EQ(w.service, "shop");
  EXPECT_EQ(w.k8s_namespace, "prod");
  EXPECT_EQ(w.k8s_pod, "shop-7d9f");
  EXPECT_EQ(w.k8s_container, "api");
  EXPECT_TRUE(discovery.Scan().changes.empty());

  Event("MODIFIED", "cart");
  diff = discovery.Scan();
  ASSERT_EQ(diff.added().size(), 1u);
  EXPECT_EQ(diff.added()[0].service, "cart");

  Event("DELETED", "cart");
  diff = discovery.Scan();
  ASSERT_EQ(diff.added().size(), 1u);
  w = diff.added()[0];
  EXPECT_EQ(w.service, "from-env");
  EXPECT_EQ(w.pod_uid, kUid);  // the cgroup still says so
  EXPECT_EQ(w.k8s_pod, "");
}

TEST_F(DiscoveryPodsTest, WithoutResolverNothingChanges) {
  Event("ADDED", "shop");
  Discovery discovery(config_, reader_);
  const auto diff = discovery.Scan();
  ASSERT_EQ(diff.added().size(), 1u);
  EXPECT_EQ(diff.added()[0].service, "from-env");
  EXPECT_EQ(diff.added()[0].pod_uid, "");
}

}  // namespace
}  // namespace perfd
