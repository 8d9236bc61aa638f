package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// rootLong is the root command's description: what mirrorchk reads and
// decides, its exit codes and the authority rules in short. The man page
// is generated from it.
const rootLong = `mirrorchk works offline on the member images of mirror sets (RAID-1). It opens
every input read-only, reads each member's set metadata, diffs the members sector
by sector, reads every differing range through the partition table and the
filesystem, decides which copy is authoritative and says why, and on request
writes repaired images as new files (never over an input).

Set metadata: Linux md RAID-1 (superblocks 0.90, 1.0, 1.1, 1.2, with the internal
write-intent bitmap); Intel IMSM (Matrix/RST) and SNIA DDF firmware RAID-1; Windows
dynamic-disk (LDM) mirrored volumes; Windows NT 4.0/2000 FT mirror sets, from the
SYSTEM hive given with --hive; and bare images without metadata.

Inputs: raw images, split raw images (disk.001, disk.002, ... given by the first)
and block devices; the evidence containers EnCase E01, VHD, VHDX, qcow2 and VMDK,
each read as the disk it holds (compressed files, archives and other containers are
refused, never read as raw); whole disks or partitions (--member binds a partition
image to an NT FT member); directories, walked, and manifests, for batch jobs; GNU
ddrescue mapfiles of failing disks (--mapfile).
Filesystems read: NTFS, FAT12/16/32, ext2/3/4 and XFS, inside an MBR or GPT partition
or bare.

AUTHORITY
  The set metadata decides first: the member with the highest md events (IMSM
  generation, DDF sequence number) is current, one more than 1 behind is stale; a
  member the current metadata records as failed is stale; an NT FT member that is
  Orphaned, Regenerating or Initializing is stale. Where the metadata is silent (bare
  images, NT FT with every member Healthy) the filesystem evidence decides: NTFS
  $LogFile and record LSNs, the ext4 journal sequence, XFS log and block LSNs,
  change times the filesystem driver stamps (never FAT dates, which programs set),
  files held on one member only, the dirty flag. Each differing range can also be
  decided by its own structure (NTFS fixups, FAT copies, boot sectors, ext4 and XFS
  checksums). Members that each have writes the other lacks are a split brain: no
  authority. With members of a set missing from the inputs, or a member whose
  metadata fails its checksum and differs, or copies of the metadata that disagree
  at one generation, no member is current by the metadata: the verdict never
  depends on the order of the inputs.
  Nothing is invented: without authority, repair writes nothing unless --prefer
  names the member to keep (recorded as basis "user", with a warning when it goes
  against the metadata); with members of the set missing it writes nothing at all.

EXIT STATUS
  0   scan: every set consistent; repair: nothing needed
  1   repair: repaired and verified
  4   scan: divergence, a stale member or other problems; repair: not repaired
  8   operational error: unreadable or invalid input
  16  usage error (including an unreadable or invalid --hive)
  32  cancelled (SIGINT or SIGTERM); partial outputs are removed
  A run of several sets exits with the bitwise OR of the sets' codes (12 = 4|8).`

// examples are each command's Example text. Every command here is run by
// the script tests in testdata/script.
var examples = map[string]string{
	"mirrorchk": `  mirrorchk scan --example
  mirrorchk scan m0.img m1.img
  mirrorchk repair --out fixed m0.img m1.img`,
	"scan": `  # text report with the verdict and the next step first and last
  mirrorchk scan m0.img m1.img

  # JSON for scripts, an HTML page with a sector map for people
  mirrorchk scan --json m0.img m1.img > report.json
  mirrorchk scan --html report.html m0.img m1.img

  # NT 4.0/2000 FT mirror: the SYSTEM hive describes the set
  mirrorchk scan --hive SYSTEM disk0.img disk1.img

  # the embedded example: a real md pair with a stale member
  mirrorchk scan --example`,
	"repair": `  # what a repair would do, writing nothing
  mirrorchk repair --dry-run m0.img m1.img

  # try it on the embedded example first
  mirrorchk repair --out fixed --example

  # write fixed/m0.img and fixed/m1.img, verified; the inputs are never touched
  mirrorchk repair --out fixed m0.img m1.img

  # keep m1.img's data although the metadata calls it stale
  mirrorchk repair --prefer m1.img --out chosen m0.img m1.img`,
	"plan": `  mirrorchk plan --shards 4 evidence/
  mirrorchk plan --json --manifest case.csv`,
	"merge":      `  mirrorchk merge --jsonl all.jsonl out/shard-*.jsonl`,
	"version":    `  mirrorchk version`,
	"completion": `  mirrorchk completion bash > /etc/bash_completion.d/mirrorchk`,
	"man":        `  mirrorchk man man1 && man -l man1/mirrorchk.1`,
}

// document gives the root command its description and every command its
// example, and adds the man command.
func document(root *cobra.Command) {
	root.Long = rootLong
	root.AddCommand(newManCommand(root))
	root.InitDefaultCompletionCmd()
	for _, c := range append([]*cobra.Command{root}, root.Commands()...) {
		if ex, ok := examples[c.Name()]; ok {
			c.Example = ex
		}
	}
}

func newManCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "man DIR",
		Short: "Write the man pages (section 1) into DIR",
		Long: `man writes mirrorchk.1 and one page per command (mirrorchk-scan.1, ...) into DIR,
creating it when needed. The pages cover the flags, the exit codes and the authority
rules in short.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			root.DisableAutoGenTag = true
			hdr := &doc.GenManHeader{Title: "MIRRORCHK", Section: "1", Source: "mirrorchk " + toolVersion(), Manual: "mirrorchk manual"}
			if err := doc.GenManTree(root, hdr, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "man pages written to %s\n", args[0])
			return nil
		},
	}
}
