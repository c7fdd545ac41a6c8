// The cgroup layouts the kubelet makes (both drivers, every QoS class,
// every runtime prefix, nested under kind/k3s/a cgroup namespace), and
// paths that merely look like them.
#include "daemon/kubernetes/cgroup_pod.h"

#include <gtest/gtest.h>

namespace perfd::k8s {
namespace {

const std::string kUid = "0f1c2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f";
const std::string kUidU = "0f1c2d3e_4a5b_6c7d_8e9f_0a1b2c3d4e5f";
const std::string kId = "3b0f6c9ad0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b";

struct Case {
  const char* what;
  std::string path;
  std::string uid;  // "" = no pod
  std::string container;
};

TEST(CgroupPodTest, Layouts) {
  const Case cases[] = {
      {"systemd burstable containerd",
       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidU +
           ".slice/cri-containerd-" + kId + ".scope",
       kUid, kId},
      {"systemd besteffort crio",
       "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidU +
           ".slice/crio-" + kId + ".scope",
       kUid, kId},
      {"systemd docker",
       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidU +
           ".slice/docker-" + kId + ".scope",
       kUid, kId},
      {"systemd guaranteed (no qos level)",
       "/kubepods.slice/kubepods-pod" + kUidU + ".slice/cri-containerd-" + kId + ".scope", kUid,
       kId},
      {"cgroupfs burstable", "/kubepods/burstable/pod" + kUid + "/" + kId, kUid, kId},
      {"cgroupfs guaranteed", "/kubepods/pod" + kUid + "/" + kId, kUid, kId},
      {"kind (nested under kubelet.slice)",
       "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
       "kubelet-kubepods-besteffort-pod" +
           kUidU + ".slice/cri-containerd-" + kId + ".scope",
       kUid, kId},
      {"k3s / docker-in-docker prefix",
       "/docker/" + kId + "/kubepods/besteffort/pod" + kUid + "/" + kId, kUid, kId},
      {"private cgroup namespace (perfd in a burstable pod)",
       "/../../kubepods-burstable-pod" + kUidU + ".slice/cri-containerd-" + kId + ".scope", kUid,
       kId},
      {"private cgroupns with kubepods above",
       "/../kubepods-burstable.slice/kubepods-burstable-pod" + kUidU + ".slice/cri-containerd-" +
           kId + ".scope",
       kUid, kId},
      {"private cgroupns, cgroupfs driver, same QoS", "/../../pod" + kUid + "/" + kId, kUid, kId},
      {"private cgroupns, cgroupfs driver, other QoS",
       "/../../../besteffort/pod" + kUid + "/" + kId, kUid, kId},
      {"process in a sub-cgroup of the container",
       "/kubepods/burstable/pod" + kUid + "/" + kId + "/init", kUid, kId},
      {"pod cgroup itself (no container)", "/kubepods/burstable/pod" + kUid, kUid, ""},
      {"crio conmon is not the container",
       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidU +
           ".slice/crio-conmon-" + kId + ".scope",
       kUid, ""},
      {"static pod (32-hex config hash)",
       "/kubepods/burstable/pod0123456789abcdef0123456789abcdef/" + kId,
       "0123456789abcdef0123456789abcdef", kId},
      {"not kubernetes", "/system.slice/docker-" + kId + ".scope", "", ""},
      {"pod<uid> without kubepods", "/user.slice/pod" + kUid + "/" + kId, "", ""},
      {"root", "/", "", ""},
      {"empty", "", "", ""},
      {"bad uid", "/kubepods/burstable/podnot-a-uid/" + kId, "", ""},
      {"uid one char short", "/kubepods/burstable/pod" + kUid.substr(1) + "/" + kId, "", ""},
      {"upper-case hex is not what the kubelet writes",
       "/kubepods/burstable/pod0F1C2D3E-4A5B-6C7D-8E9F-0A1B2C3D4E5F/" + kId, "", ""},
      {"short container id", "/kubepods/burstable/pod" + kUid + "/abc123", kUid, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const auto pod = ParseCgroupPath(c.path);
    if (c.uid.empty()) {
      EXPECT_FALSE(pod.has_value()) << pod->pod_uid;
      continue;
    }
    ASSERT_TRUE(pod.has_value());
    EXPECT_EQ(pod->pod_uid, c.uid);
    EXPECT_EQ(pod->container_id, c.container);
  }
}

TEST(CgroupPodTest, FilePrefersV2ThenV1) {
  const std::string v2 = "0::/kubepods/burstable/pod" + kUid + "/" + kId + "\n";
  auto pod = ParseCgroupFile(v2);
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->pod_uid, kUid);

  // cgroup v1 (hybrid hosts): the unified line is "/", the controllers name the pod.
  const std::string other = "1111111d-4a5b-6c7d-8e9f-0a1b2c3d4e5f";
  const std::string v1 = "12:pids:/kubepods/burstable/pod" + kUid + "/" + kId +
                         "\n11:memory:/kubepods/burstable/pod" + other + "/" + kId +
                         "\n1:name=systemd:/\n0::/\n";
  pod = ParseCgroupFile(v1);
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->pod_uid, kUid);  // the first v1 line that names one

  const std::string both = "4:memory:/kubepods/pod" + other + "/" + kId + "\n" + v2;
  pod = ParseCgroupFile(both);
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->pod_uid, kUid);  // v2 wins
}

TEST(CgroupPodTest, FileWithoutPodOrMalformed) {
  EXPECT_FALSE(ParseCgroupFile("0::/user.slice/session-1.scope\n"));
  EXPECT_FALSE(ParseCgroupFile(""));
  EXPECT_FALSE(ParseCgroupFile("garbage"));
  EXPECT_FALSE(ParseCgroupFile("0:/kubepods/pod" + kUid + "\n"));  // one colon only
  // A path may contain ':' after the second one.
  const auto pod = ParseCgroupFile("0::/kubepods/pod" + kUid + "/" + kId + ":x\n");
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->container_id, "");
}

}  // namespace
}  // namespace perfd::k8s
