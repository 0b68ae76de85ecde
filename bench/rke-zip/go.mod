module rke-etcd-snapshot/bench/rke-zip

go 1.19
