// Command vcsim serves govmomi's vSphere simulator (a vCenter model: a datacenter with a
// standalone host, a cluster of hosts and their VMs) over HTTPS on 127.0.0.1, for the
// agent's vSphere tests. Debian packages govmomi's simulator library but no program that
// runs it, hence these few lines. It prints the SDK URL once listening and serves until
// SIGINT or SIGTERM.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	port := flag.Int("port", 0, "TCP port on 127.0.0.1 (0: any free port)")
	username := flag.String("username", "", "the only user accepted (empty: any non-empty user and password)")
	password := flag.String("password", "", "that user's password")
	hosts := flag.Int("cluster-hosts", 3, "hosts in the cluster")
	standalone := flag.Int("standalone-hosts", 1, "standalone hosts")
	vms := flag.Int("vms", 2, "VMs per resource pool (one pool per cluster and per standalone host)")
	flag.Parse()

	model := simulator.VPX()
	model.ClusterHost = *hosts
	model.Host = *standalone
	model.Machine = *vms
	if err := model.Create(); err != nil {
		log.Fatalf("vcsim: creating the model: %v", err)
	}
	defer model.Remove()

	listen := &url.URL{Host: fmt.Sprintf("127.0.0.1:%d", *port)}
	if *username != "" {
		listen.User = url.UserPassword(*username, *password)
	}
	model.Service.Listen = listen
	model.Service.TLS = new(tls.Config)
	server := model.Service.NewServer()
	defer server.Close()

	u := *server.URL
	u.User = nil
	fmt.Printf("VSPHERE_URL=%s\n", u.String())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
