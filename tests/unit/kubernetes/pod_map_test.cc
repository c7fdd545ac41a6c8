// PodMap against API objects shaped like the real ones (kubectl get pods -o
// json, trimmed): list, watch events, 410 Gone, bookmarks, bounds.
#include "daemon/kubernetes/pod_map.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace perfd::k8s {
namespace {

using nlohmann::json;

const std::vector<std::string> kKeys = {"app.kubernetes.io/name", "app"};

json Pod(const std::string& uid, const std::string& name, const std::string& rv,
         json labels = json::object(), const std::string& container_id = "") {
  json pod = {{"kind", "Pod"},
              {"apiVersion", "v1"},
              {"metadata",
               {{"name", name},
                {"namespace", "shop"},
                {"uid", uid},
                {"resourceVersion", rv},
                {"labels", labels},
                {"ownerReferences", json::array({{{"kind", "ReplicaSet"}, {"name", "x"}}})}}},
              {"spec", {{"nodeName", "node-1"}, {"containers", json::array({{{"name", "api"}}})}}},
              {"status", {{"phase", "Running"}}}};
  if (!container_id.empty()) {
    pod["status"]["containerStatuses"] = json::array(
        {{{"name", "api"}, {"containerID", "containerd://" + container_id}, {"ready", true}}});
    pod["status"]["initContainerStatuses"] =
        json::array({{{"name", "migrate"}, {"containerID", "containerd://init" + container_id}}});
  }
  return pod;
}

std::string List(const std::vector<json>& pods, const std::string& rv) {
  json list = {{"kind", "PodList"},
               {"apiVersion", "v1"},
               {"metadata", {{"resourceVersion", rv}}},
               {"items", pods}};
  return list.dump();
}

std::string Event(const std::string& type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump();
}

TEST(PodMapTest, ListThenWatchEvents) {
  PodMap map(100, kKeys);
  EXPECT_FALSE(map.synced());
  std::string rv, error;
  ASSERT_EQ(map.ApplyList(List({Pod("u1", "api-1", "10",
                                    {{"app.kubernetes.io/name", "shop"}, {"team", "x"}}, "c1")},
                               "42"),
                          &rv, &error),
            PodMap::Result::kApplied)
      << error;
  EXPECT_TRUE(map.synced());
  EXPECT_EQ(rv, "42");
  auto p = map.Find("u1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->namespace_name, "shop");
  EXPECT_EQ(p->name, "api-1");
  EXPECT_EQ(p->labels, (std::map<std::string, std::string>{{"app.kubernetes.io/name", "shop"}}));
  EXPECT_EQ(p->containers,
            (std::map<std::string, std::string>{{"c1", "api"}, {"initc1", "migrate"}}));

  const uint64_t g0 = map.generation();
  ASSERT_EQ(map.ApplyWatchEvent(Event("ADDED", Pod("u2", "api-2", "43")), &rv, &error),
            PodMap::Result::kApplied);
  EXPECT_EQ(rv, "43");
  EXPECT_GT(map.generation(), g0);
  EXPECT_EQ(map.size(), 2u);

  // A status-only change (nothing perfd keeps) does not move the generation.
  const uint64_t g1 = map.generation();
  json same = Pod("u2", "api-2", "44");
  same["status"]["phase"] = "Succeeded";
  ASSERT_EQ(map.ApplyWatchEvent(Event("MODIFIED", same), &rv, &error), PodMap::Result::kApplied);
  EXPECT_EQ(map.generation(), g1);
  EXPECT_EQ(rv, "44");

  // Relabel.
  ASSERT_EQ(map.ApplyWatchEvent(Event("MODIFIED", Pod("u2", "api-2", "45", {{"app", "cart"}})), &rv,
                                &error),
            PodMap::Result::kApplied);
  EXPECT_GT(map.generation(), g1);
  EXPECT_EQ(map.Find("u2")->labels.at("app"), "cart");

  const uint64_t g2 = map.generation();
  ASSERT_EQ(map.ApplyWatchEvent(Event("DELETED", Pod("u1", "api-1", "46")), &rv, &error),
            PodMap::Result::kApplied);
  EXPECT_FALSE(map.Find("u1"));
  EXPECT_GT(map.generation(), g2);
}

TEST(PodMapTest, GoneAndBookmarkAndErrors) {
  PodMap map(100, kKeys);
  std::string rv = "7", error;
  // What the API server sends when the watch's resourceVersion was compacted.
  const std::string gone =
      R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},)j"
      R"j("status":"Failure","message":"too old resource version: 7 (9)","reason":"Expired",)j"
      R"j("code":410}})j";
  EXPECT_EQ(map.ApplyWatchEvent(gone, &rv, &error), PodMap::Result::kGone);
  const std::string bookmark =
      R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"99","creationTimestamp":null},"spec":{"containers":null},"status":{}}})";
  EXPECT_EQ(map.ApplyWatchEvent(bookmark, &rv, &error), PodMap::Result::kBookmark);
  EXPECT_EQ(rv, "99");
  EXPECT_EQ(map.ApplyWatchEvent("{not json", &rv, &error), PodMap::Result::kError);
  EXPECT_EQ(map.ApplyWatchEvent(R"({"type":"ADDED"})", &rv, &error), PodMap::Result::kError);
  EXPECT_EQ(map.ApplyWatchEvent(R"({"type":"ADDED","object":{"metadata":{}}})", &rv, &error),
            PodMap::Result::kError);
  EXPECT_EQ(
      map.ApplyWatchEvent(
          R"({"type":"ERROR","object":{"kind":"Status","code":500,"reason":"InternalError"}})", &rv,
          &error),
      PodMap::Result::kError);
  EXPECT_EQ(map.ApplyList("[]", &rv, &error), PodMap::Result::kError);
  EXPECT_EQ(map.ApplyList(R"({"items":[]})", &rv, &error), PodMap::Result::kError);
  EXPECT_FALSE(map.synced());
}

TEST(PodMapTest, RelistReplacesEverything) {
  PodMap map(100, kKeys);
  std::string rv, error;
  map.ApplyList(List({Pod("u1", "a", "1"), Pod("u2", "b", "1")}, "5"), &rv, &error);
  const uint64_t g = map.generation();
  // Same pods again: nothing a reader sees changed.
  map.ApplyList(List({Pod("u1", "a", "1"), Pod("u2", "b", "1")}, "6"), &rv, &error);
  EXPECT_EQ(map.generation(), g);
  // u2 was deleted while no watch ran (e.g. between a 410 and the re-list).
  map.ApplyList(List({Pod("u1", "a", "1")}, "7"), &rv, &error);
  EXPECT_GT(map.generation(), g);
  EXPECT_FALSE(map.Find("u2"));
  EXPECT_TRUE(map.Find("u1"));
  EXPECT_EQ(rv, "7");
}

TEST(PodMapTest, Bounds) {
  PodMap map(2, kKeys);
  std::string rv, error;
  map.ApplyList(List({Pod("u1", "a", "1"), Pod("u2", "b", "1"), Pod("u3", "c", "1")}, "5"), &rv,
                &error);
  EXPECT_EQ(map.size(), 2u);
  EXPECT_EQ(map.dropped(), 1u);
  map.ApplyWatchEvent(Event("ADDED", Pod("u4", "d", "6")), &rv, &error);
  EXPECT_EQ(map.size(), 2u);
  EXPECT_EQ(map.dropped(), 2u);
  // An update of a kept pod is not refused.
  map.ApplyWatchEvent(Event("MODIFIED", Pod("u1", "a", "7", {{"app", "x"}})), &rv, &error);
  EXPECT_EQ(map.Find("u1")->labels.at("app"), "x");

  // Values are cut; label keys not asked for are not kept; containers capped.
  json big = Pod("u1", std::string(1000, 'n'), "8",
                 {{"app", std::string(10000, 'v')}, {"other", std::string(10000, 'o')}});
  json statuses = json::array();
  for (int i = 0; i < 200; ++i)
    statuses.push_back(
        {{"name", "c" + std::to_string(i)}, {"containerID", "containerd://" + std::to_string(i)}});
  big["status"]["containerStatuses"] = statuses;
  map.ApplyWatchEvent(Event("MODIFIED", big), &rv, &error);
  const auto p = map.Find("u1");
  EXPECT_EQ(p->name.size(), kMaxValueBytes);
  EXPECT_EQ(p->labels.size(), 1u);
  EXPECT_EQ(p->labels.at("app").size(), kMaxValueBytes);
  EXPECT_EQ(p->containers.size(), kMaxContainersPerPod);
}

TEST(PodMapTest, WrongTypesAreIgnoredNotThrown) {
  PodMap map(10, kKeys);
  std::string rv, error;
  const std::string odd =
      R"({"type":"ADDED","object":{"metadata":{"uid":"u1","name":5,"labels":{"app":["x"]}},)"
      R"("status":{"containerStatuses":[7,{"containerID":null,"name":"a"}]}}})";
  EXPECT_EQ(map.ApplyWatchEvent(odd, &rv, &error), PodMap::Result::kApplied);
  const auto p = map.Find("u1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "");
  EXPECT_TRUE(p->labels.empty());
  EXPECT_TRUE(p->containers.empty());
}

}  // namespace
}  // namespace perfd::k8s
