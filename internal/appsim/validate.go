package appsim

import (
	"fmt"
	"regexp"

	"github.com/digitalocean/godo"
)

// The name pattern of app_spec.yml and app_component_base.yml (2-32 chars).
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}[a-z0-9]$`)

var envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Regions is app_spec.yml's region enum.
var Regions = []string{"atl", "nyc", "sfo", "tor", "ams", "fra", "lon", "blr", "sgp", "syd"}

// InstanceSizes is app_component_instance_base.yml's instance_size_slug enum,
// current and deprecated slugs.
var InstanceSizes = []string{
	"apps-s-1vcpu-0.5gb", "apps-s-1vcpu-1gb-fixed", "apps-s-1vcpu-1gb", "apps-s-1vcpu-2gb",
	"apps-s-2vcpu-4gb", "apps-d-1vcpu-0.5gb", "apps-d-1vcpu-1gb", "apps-d-1vcpu-2gb",
	"apps-d-1vcpu-4gb", "apps-d-2vcpu-4gb", "apps-d-2vcpu-8gb", "apps-d-4vcpu-8gb",
	"apps-d-4vcpu-16gb", "apps-d-8vcpu-32gb",
	"basic-xxs", "basic-xs", "basic-s", "basic-m", "professional-xs", "professional-s",
	"professional-m", "professional-1l", "professional-l", "professional-xl",
}

var (
	regionSet = setOf(Regions)
	sizeSet   = setOf(InstanceSizes)
)

func setOf(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// validateSpec checks what the real API rejects with 422 for the subset of
// the spec hotpool uses: names, region, one image-sourced service, its size,
// port, env. It returns the first problem, worded like the API.
func validateSpec(spec *godo.AppSpec) error {
	if spec == nil {
		return fmt.Errorf("spec is required")
	}
	if !nameRE.MatchString(spec.Name) {
		return fmt.Errorf("spec.name %q must be 2-32 lowercase letters, digits and dashes, starting with a letter and ending with a letter or digit", spec.Name)
	}
	if spec.Region != "" && !regionSet[spec.Region] {
		return fmt.Errorf("spec.region %q is not a valid region", spec.Region)
	}
	if len(spec.Services) == 0 {
		return fmt.Errorf("spec must have at least one component (services)")
	}
	seen := map[string]bool{}
	for i, svc := range spec.Services {
		path := fmt.Sprintf("spec.services[%d]", i)
		if svc == nil {
			return fmt.Errorf("%s must be an object", path)
		}
		if !nameRE.MatchString(svc.Name) {
			return fmt.Errorf("%s.name %q must be 2-32 lowercase letters, digits and dashes, starting with a letter", path, svc.Name)
		}
		if seen[svc.Name] {
			return fmt.Errorf("%s.name %q is not unique within the app", path, svc.Name)
		}
		seen[svc.Name] = true
		if err := validateImage(path+".image", svc.Image); err != nil {
			return err
		}
		if svc.InstanceSizeSlug != "" && !sizeSet[svc.InstanceSizeSlug] {
			return fmt.Errorf("%s.instance_size_slug %q is not a valid instance size", path, svc.InstanceSizeSlug)
		}
		if svc.InstanceCount < 0 {
			return fmt.Errorf("%s.instance_count must be >= 0", path)
		}
		if svc.HTTPPort != 0 && (svc.HTTPPort < 1 || svc.HTTPPort > 65535) {
			return fmt.Errorf("%s.http_port must be 1-65535", path)
		}
		for j, e := range svc.Envs {
			if e == nil || !envKeyRE.MatchString(e.Key) {
				return fmt.Errorf("%s.envs[%d].key is not a valid environment variable name", path, j)
			}
			switch e.Type {
			case "", godo.AppVariableType_General, godo.AppVariableType_Secret:
			default:
				return fmt.Errorf("%s.envs[%d].type %q must be GENERAL or SECRET", path, j, e.Type)
			}
		}
	}
	return nil
}

func validateImage(path string, img *godo.ImageSourceSpec) error {
	if img == nil {
		// The simulator builds nothing from source: an image is the only source it knows.
		return fmt.Errorf("%s is required: the component needs a source", path)
	}
	switch img.RegistryType {
	case godo.ImageSourceSpecRegistryType_DOCR:
		if img.Registry != "" {
			return fmt.Errorf("%s.registry must be empty for registry_type DOCR", path)
		}
	case godo.ImageSourceSpecRegistryType_Ghcr, godo.ImageSourceSpecRegistryType_DockerHub:
		if img.Registry == "" {
			return fmt.Errorf("%s.registry is required for registry_type %s", path, img.RegistryType)
		}
	default:
		return fmt.Errorf("%s.registry_type %q must be DOCKER_HUB, DOCR or GHCR", path, img.RegistryType)
	}
	if img.Repository == "" {
		return fmt.Errorf("%s.repository is required", path)
	}
	if img.Tag != "" && img.Digest != "" {
		return fmt.Errorf("%s: tag cannot be specified if digest is provided", path)
	}
	return nil
}
