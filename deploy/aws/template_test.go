// Package aws holds the AWS SAM template of hotpool (template.yaml). No
// CloudFormation linter installs here (cfn-lint is on PyPI, which this
// workplace cannot reach), so this test reads the template as YAML and holds
// every resource to the properties its type documents (the CloudFormation
// and SAM resource references), every reference to something that exists,
// and hotpool's own requirements to what the template says.
package aws

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

type props = map[string]any

// documented are the property names of each resource type the template uses,
// as their reference pages list them; required must be present.
var documented = map[string]struct{ props, required []string }{
	"AWS::SecretsManager::Secret": {props: []string{"Description", "GenerateSecretString", "KmsKeyId", "Name", "ReplicaRegions", "SecretString", "Tags"}},
	"AWS::EC2::VPC":               {props: []string{"CidrBlock", "EnableDnsHostnames", "EnableDnsSupport", "InstanceTenancy", "Ipv4IpamPoolId", "Ipv4NetmaskLength", "Tags"}},
	"AWS::EC2::Subnet": {props: []string{"AssignIpv6AddressOnCreation", "AvailabilityZone", "AvailabilityZoneId", "CidrBlock", "EnableDns64",
		"Ipv4IpamPoolId", "Ipv4NetmaskLength", "Ipv6CidrBlock", "Ipv6Native", "MapPublicIpOnLaunch", "OutpostArn", "PrivateDnsNameOptionsOnLaunch", "Tags", "VpcId"},
		required: []string{"VpcId"}},
	"AWS::EC2::InternetGateway":      {props: []string{"Tags"}},
	"AWS::EC2::VPCGatewayAttachment": {props: []string{"InternetGatewayId", "VpcId", "VpnGatewayId"}, required: []string{"VpcId"}},
	"AWS::EC2::EIP":                  {props: []string{"Address", "Domain", "InstanceId", "IpamPoolId", "NetworkBorderGroup", "PublicIpv4Pool", "Tags", "TransferAddress"}},
	"AWS::EC2::NatGateway": {props: []string{"AllocationId", "ConnectivityType", "MaxDrainDurationSeconds", "PrivateIpAddress", "SecondaryAllocationIds",
		"SecondaryPrivateIpAddressCount", "SecondaryPrivateIpAddresses", "SubnetId", "Tags"}, required: []string{"SubnetId"}},
	"AWS::EC2::RouteTable": {props: []string{"Tags", "VpcId"}, required: []string{"VpcId"}},
	"AWS::EC2::Route": {props: []string{"CarrierGatewayId", "CoreNetworkArn", "DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId",
		"EgressOnlyInternetGatewayId", "GatewayId", "InstanceId", "LocalGatewayId", "NatGatewayId", "NetworkInterfaceId", "RouteTableId",
		"TransitGatewayId", "VpcEndpointId", "VpcPeeringConnectionId"}, required: []string{"RouteTableId"}},
	"AWS::EC2::SubnetRouteTableAssociation": {props: []string{"RouteTableId", "SubnetId"}, required: []string{"RouteTableId", "SubnetId"}},
	"AWS::EC2::SecurityGroup": {props: []string{"GroupDescription", "GroupName", "SecurityGroupEgress", "SecurityGroupIngress", "Tags", "VpcId"},
		required: []string{"GroupDescription"}},
	"AWS::ElastiCache::SubnetGroup": {props: []string{"CacheSubnetGroupName", "Description", "SubnetIds", "Tags"}, required: []string{"Description", "SubnetIds"}},
	"AWS::ElastiCache::ReplicationGroup": {props: []string{"AtRestEncryptionEnabled", "AuthToken", "AutoMinorVersionUpgrade", "AutomaticFailoverEnabled",
		"CacheNodeType", "CacheParameterGroupName", "CacheSecurityGroupNames", "CacheSubnetGroupName", "ClusterMode", "DataTieringEnabled", "Engine",
		"EngineVersion", "GlobalReplicationGroupId", "IpDiscovery", "KmsKeyId", "LogDeliveryConfigurations", "MultiAZEnabled", "NetworkType",
		"NodeGroupConfiguration", "NotificationTopicArn", "NumCacheClusters", "NumNodeGroups", "Port", "PreferredCacheClusterAZs",
		"PreferredMaintenanceWindow", "PrimaryClusterId", "ReplicasPerNodeGroup", "ReplicationGroupDescription", "ReplicationGroupId",
		"SecurityGroupIds", "SnapshotArns", "SnapshotName", "SnapshotRetentionLimit", "SnapshotWindow", "SnapshottingClusterId", "Tags",
		"TransitEncryptionEnabled", "TransitEncryptionMode", "UserGroupIds"}, required: []string{"ReplicationGroupDescription"}},
	"AWS::Serverless::Function": {props: []string{"Architectures", "AssumeRolePolicyDocument", "AutoPublishAlias", "AutoPublishCodeSha256",
		"CodeSigningConfigArn", "CodeUri", "DeadLetterQueue", "DeploymentPreference", "Description", "Environment", "EphemeralStorage",
		"EventInvokeConfig", "Events", "FileSystemConfigs", "FunctionName", "FunctionUrlConfig", "Handler", "ImageConfig", "ImageUri",
		"InlineCode", "KmsKeyArn", "Layers", "LoggingConfig", "MemorySize", "PackageType", "PermissionsBoundary", "Policies", "PropagateTags",
		"ProvisionedConcurrencyConfig", "RecursiveLoop", "ReservedConcurrentExecutions", "Role", "RolePath", "Runtime",
		"RuntimeManagementConfig", "SnapStartConfiguration", "SourceKMSKeyArn", "Tags", "Timeout", "Tracing", "VersionDescription", "VpcConfig"}},
}

// attributes each referenced resource type documents for Fn::GetAtt.
var attributes = map[string][]string{
	"AWS::EC2::EIP":                      {"AllocationId", "PublicIp"},
	"AWS::ElastiCache::ReplicationGroup": {"PrimaryEndPoint.Address", "PrimaryEndPoint.Port", "ReaderEndPoint.Address", "ReaderEndPoint.Port"},
	"AWS::Lambda::Url":                   {"FunctionArn", "FunctionUrl"}, // SAM makes <Function>Url for FunctionUrlConfig
}

func load(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("template.yaml")
	require.NoError(t, err)
	j, err := yaml.YAMLToJSON(b)
	require.NoError(t, err, "the template is plain YAML (long-form intrinsics)")
	var tpl map[string]any
	require.NoError(t, json.Unmarshal(j, &tpl))
	return tpl
}

func TestTemplateResourcesHaveOnlyDocumentedProperties(t *testing.T) {
	tpl := load(t)
	require.Equal(t, "AWS::Serverless-2016-10-31", tpl["Transform"])
	resources := tpl["Resources"].(map[string]any)
	params := tpl["Parameters"].(map[string]any)
	types := map[string]string{}
	for name, r := range resources {
		types[name] = r.(map[string]any)["Type"].(string)
	}
	for name, typ := range types {
		if typ == "AWS::Serverless::Function" && resources[name].(map[string]any)["Properties"].(map[string]any)["FunctionUrlConfig"] != nil {
			types[name+"Url"] = "AWS::Lambda::Url"
		}
	}
	for name, r := range resources {
		res := r.(map[string]any)
		doc, ok := documented[types[name]]
		require.True(t, ok, "%s: type %s is not one this test knows", name, types[name])
		p, _ := res["Properties"].(map[string]any)
		for k := range p {
			require.Contains(t, doc.props, k, "%s (%s): %s is not a documented property", name, types[name], k)
		}
		for _, k := range doc.required {
			require.Contains(t, p, k, "%s (%s) needs %s", name, types[name], k)
		}
		if d, ok := res["DependsOn"].(string); ok {
			require.Contains(t, resources, d, "%s depends on %s", name, d)
		}
	}
	// Every Ref, Fn::GetAtt and ${…} of Fn::Sub names a parameter, a
	// resource (with a documented attribute) or a pseudo parameter.
	exists := func(n string) bool {
		_, p := params[n]
		_, r := types[n]
		return p || r || strings.HasPrefix(n, "AWS::")
	}
	var walk func(path string, v any)
	sub := regexp.MustCompile(`\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z.]+))?\}`)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				switch k {
				case "Ref":
					require.True(t, exists(c.(string)), "%s: Ref %v", path, c)
				case "Fn::GetAtt":
					a := c.([]any)
					require.True(t, exists(a[0].(string)), "%s: GetAtt %v", path, a)
					require.Contains(t, attributes[types[a[0].(string)]], a[1], "%s: %s has no attribute %s", path, a[0], a[1])
				case "Fn::Sub":
					for _, m := range sub.FindAllStringSubmatch(c.(string), -1) {
						require.True(t, exists(m[1]), "%s: ${%s}", path, m[1])
						if m[2] != "" {
							require.Contains(t, attributes[types[m[1]]], m[2], "%s: ${%s.%s}", path, m[1], m[2])
						}
					}
				}
				walk(path+"."+k, c)
			}
		case []any:
			for _, c := range x {
				walk(path, c)
			}
		}
	}
	walk("Resources", resources)
	walk("Outputs", tpl["Outputs"])
}

// What hotpool needs from the function, the schedule, Valkey and the secrets.
func TestTemplateSaysWhatHotpoolNeeds(t *testing.T) {
	tpl := load(t)
	rs := tpl["Resources"].(map[string]any)
	fn := rs["Hotpool"].(map[string]any)["Properties"].(props)
	require.Equal(t, "provided.al2023", fn["Runtime"])
	require.Equal(t, "bootstrap", fn["Handler"])
	require.Equal(t, []any{"arm64"}, fn["Architectures"])
	require.GreaterOrEqual(t, fn["Timeout"].(float64), 56.0, "an acquire waits up to 25 s and a run passes until 5 s before its deadline")
	require.Equal(t, props{"AuthType": "NONE"}, fn["FunctionUrlConfig"], "the function checks the bearer token itself")
	vpc := fn["VpcConfig"].(props)
	require.Len(t, vpc["SubnetIds"], 2)

	ev := fn["Events"].(props)["Reconcile"].(props)
	require.Equal(t, "Schedule", ev["Type"])
	require.Equal(t, float64(0), ev["Properties"].(props)["RetryPolicy"].(props)["MaximumRetryAttempts"])

	env := fn["Environment"].(props)["Variables"].(props)
	for _, k := range []string{"HOTPOOL_API_TOKEN", "HOTPOOL_SECRET", "REDIS_PASSWORD", "DIGITALOCEAN_TOKEN"} {
		require.NotContains(t, env, k, "%s is a secret: only its secret id is in the configuration", k)
		require.Contains(t, env, k+"_SECRET_ID")
	}
	require.Contains(t, env["REDIS_URL"].(props)["Fn::Sub"], "rediss://", "TLS to ElastiCache")
	require.Equal(t, props{"Ref": "HotpoolConfig"}, env["HOTPOOL_CONFIG"])
	require.Equal(t, "@/var/task/hotpool-config.json", tpl["Parameters"].(props)["HotpoolConfig"].(props)["Default"], "make lambda puts the config there")
	layers := fn["Layers"].([]any)
	require.Equal(t, props{"Ref": "ParamsAndSecretsLayerArn"}, layers[0], "the secrets extension serves *_SECRET_ID")

	cache := rs["Cache"].(props)["Properties"].(props)
	require.Equal(t, "valkey", cache["Engine"])
	require.Equal(t, "Disabled", cache["ClusterMode"], "one hash tag, one primary: cluster mode disabled")
	require.Equal(t, true, cache["TransitEncryptionEnabled"])
	require.Contains(t, cache["AuthToken"].(props)["Fn::Sub"], "{{resolve:secretsmanager:")

	// Egress: the private subnets route through the NAT gateway.
	route := rs["PrivateDefaultRoute"].(props)["Properties"].(props)
	require.Equal(t, "0.0.0.0/0", route["DestinationCidrBlock"])
	require.Equal(t, props{"Ref": "NatGateway"}, route["NatGatewayId"])
	var fnSubnets []string
	for _, s := range vpc["SubnetIds"].([]any) {
		fnSubnets = append(fnSubnets, s.(props)["Ref"].(string))
	}
	for _, assoc := range []string{"PrivateSubnetARoutes", "PrivateSubnetBRoutes"} {
		p := rs[assoc].(props)["Properties"].(props)
		require.Equal(t, props{"Ref": "PrivateRoutes"}, p["RouteTableId"])
		require.True(t, slices.Contains(fnSubnets, p["SubnetId"].(props)["Ref"].(string)))
	}
}
