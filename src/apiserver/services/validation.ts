// Upstream's ValidateService / ValidateServiceUpdate (pkg/apis/core/validation): field paths and
// texts as kube-apiserver 1.32 prints them, so kubectl shows the same 422 messages.
import { FieldError, duplicate, forbiddenField, goLiteral, internalFieldError, invalidValue, notSupported, required } from '../status.js';
import { dns1123Label, dns1123Subdomain, validateLabelMap } from '../validation.js';
import { ipClass, isIPv6String, parseCIDR, parseIP } from './ip.js';

type Obj = Record<string, any>;

export const MAX_CLIENT_IP_AFFINITY_SECONDS = 86400;
export const DEFAULT_CLIENT_IP_AFFINITY_SECONDS = 10800;

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const QUALIFIED_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const RANGE_1_65535 = 'must be between 1 and 65535, inclusive';

/** Go's %#v of a []string, as field errors print a bad slice value. */
export const goStrings = (v: unknown, type = '[]string'): unknown => {
  if (!Array.isArray(v)) return v === undefined || v === null ? goLiteral(`${type}(nil)`) : v;
  return goLiteral(`${type}{${v.map((s) => JSON.stringify(String(s))).join(', ')}}`);
};
export const goFamilies = (v: unknown): unknown => goStrings(v, '[]core.IPFamily');

export const isHeadless = (spec: Obj | undefined): boolean => Array.isArray(spec?.clusterIPs) && spec!.clusterIPs.length === 1 && spec!.clusterIPs[0] === 'None';

/** Upstream's ExternallyAccessible: NodePort, LoadBalancer, or ClusterIP with external IPs. */
export function externallyAccessible(spec: Obj | undefined): boolean {
  const t = spec?.type;
  return t === 'LoadBalancer' || t === 'NodePort' || (t === 'ClusterIP' && Array.isArray(spec?.externalIPs) && spec!.externalIPs.length > 0);
}

/** LoadBalancer with externalTrafficPolicy Local gets a healthCheckNodePort. */
export const needsHealthCheck = (spec: Obj | undefined): boolean => spec?.type === 'LoadBalancer' && spec?.externalTrafficPolicy === 'Local';

function qualifiedName(path: string, v: string): FieldError[] {
  const parts = v.split('/');
  const errs: FieldError[] = [];
  let name = v;
  if (parts.length === 2) {
    name = parts[1]!;
    if (parts[0] === '') errs.push(invalidValue(path, v, 'prefix part must be non-empty'));
    else for (const e of dns1123Subdomain(path, parts[0]!)) errs.push(invalidValue(path, v, `prefix part ${e.detail}`));
  } else if (parts.length > 2) {
    return [invalidValue(path, v, `a qualified name ${QUALIFIED_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`)];
  }
  if (name === '') errs.push(invalidValue(path, v, 'name part must be non-empty'));
  else if (name.length > 63) errs.push(invalidValue(path, v, 'name part must be no more than 63 characters'));
  if (!QUALIFIED_NAME.test(name)) errs.push(invalidValue(path, v, `name part ${QUALIFIED_MSG}`));
  return errs;
}

function portNumOrName(path: string, v: unknown): FieldError[] {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 1 && v <= 65535 ? [] : [invalidValue(path, v, RANGE_1_65535)];
  if (typeof v !== 'string') return [internalFieldError(path, `unknown type: ${typeof v}`)];
  const errs: FieldError[] = [];
  if (v.length > 15) errs.push(invalidValue(path, v, 'must be no more than 15 characters'));
  if (!/^[-a-z0-9]+$/.test(v)) errs.push(invalidValue(path, v, 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)'));
  if (!/[a-z]/.test(v)) errs.push(invalidValue(path, v, 'must contain at least one letter (a-z)'));
  if (v.includes('--')) errs.push(invalidValue(path, v, 'must not contain consecutive hyphens'));
  if (v.length > 0 && (v.startsWith('-') || v.endsWith('-'))) errs.push(invalidValue(path, v, 'must not begin or end with a hyphen'));
  return errs;
}

function validIP(path: string, v: unknown): FieldError[] {
  return typeof v === 'string' && parseIP(v) ? [] : [invalidValue(path, v, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)')];
}

/** Upstream's ValidateNonSpecialIP, for externalIPs. */
export function nonSpecialIP(path: string, v: string): FieldError[] {
  const ip = parseIP(v);
  if (!ip) return [invalidValue(path, v, 'must be a valid IP address')];
  const c = ipClass(ip);
  const errs: FieldError[] = [];
  if (c.unspecified) errs.push(invalidValue(path, v, `may not be unspecified (${v})`));
  if (c.loopback) errs.push(invalidValue(path, v, 'may not be in the loopback range (127.0.0.0/8, ::1/128)'));
  if (c.linkLocalUnicast) errs.push(invalidValue(path, v, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)'));
  if (c.linkLocalMulticast) errs.push(invalidValue(path, v, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'));
  return errs;
}

function validateServicePort(sp: Obj, requireName: boolean, names: Set<string>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = sp.name ?? '';
  if (requireName && name === '') errs.push(required(`${path}.name`));
  else if (name !== '') {
    errs.push(...dns1123Label(`${path}.name`, String(name)));
    if (names.has(name)) errs.push(duplicate(`${path}.name`, name));
    else names.add(name);
  }
  const port = sp.port ?? 0;
  if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) errs.push(invalidValue(`${path}.port`, port, RANGE_1_65535));
  if (!sp.protocol) errs.push(required(`${path}.protocol`));
  else if (!PROTOCOLS.includes(sp.protocol)) errs.push(notSupported(`${path}.protocol`, sp.protocol, PROTOCOLS));
  errs.push(...portNumOrName(`${path}.targetPort`, sp.targetPort ?? 0));
  if (typeof sp.appProtocol === 'string') errs.push(...qualifiedName(`${path}.appProtocol`, sp.appProtocol));
  return errs;
}

/** Upstream's ValidateServiceClusterIPsRelatedFields (also run before allocation). */
export function validateClusterIPsRelatedFields(spec: Obj): FieldError[] {
  if (spec.type === 'ExternalName') return [];
  const errs: FieldError[] = [];
  let hasInvalidIPs = false;
  const clusterIPs: unknown[] = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [];
  const clusterIP = spec.clusterIP ?? '';
  if (clusterIP !== '') {
    if (clusterIPs.length === 0) errs.push(required('spec.clusterIPs'));
    else if (clusterIPs[0] !== clusterIP) errs.push(invalidValue('spec.clusterIPs', goStrings(clusterIPs), 'first value must match `clusterIP`'));
  } else if (clusterIPs.length !== 0) {
    errs.push(invalidValue('spec.clusterIPs', goStrings(clusterIPs), 'must be empty when `clusterIP` is not specified'));
  }
  const seen = new Set<string>();
  (Array.isArray(spec.ipFamilies) ? spec.ipFamilies : []).forEach((f: unknown, i: number) => {
    if (f !== 'IPv4' && f !== 'IPv6') errs.push(notSupported(`spec.ipFamilies[${i}]`, f, ['IPv4', 'IPv6']));
    if (seen.has(String(f))) errs.push(duplicate(`spec.ipFamilies[${i}]`, f));
    seen.add(String(f));
  });
  if (spec.ipFamilyPolicy !== undefined && spec.ipFamilyPolicy !== null && !['PreferDualStack', 'RequireDualStack', 'SingleStack'].includes(spec.ipFamilyPolicy)) {
    errs.push(notSupported('spec.ipFamilyPolicy', spec.ipFamilyPolicy, ['PreferDualStack', 'RequireDualStack', 'SingleStack']));
  }
  clusterIPs.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (clusterIPs.length > 1) {
        hasInvalidIPs = true;
        errs.push(invalidValue('spec.clusterIPs', goStrings(clusterIPs), "'None' must be the first and only value"));
      }
      return;
    }
    const e = validIP(`spec.clusterIPs[${i}]`, ip);
    if (e.length) hasInvalidIPs = true;
    errs.push(...e);
  });
  if (clusterIPs.length > 2) errs.push(invalidValue('spec.clusterIPs', goStrings(clusterIPs), 'may only hold up to 2 values'));
  if (hasInvalidIPs) return errs;
  if (clusterIPs.length > 1) {
    const fams = clusterIPs.map((ip) => parseIP(String(ip))?.family);
    if (!(clusterIPs.length === 2 && fams[0] !== fams[1])) {
      errs.push(invalidValue('spec.clusterIPs', goStrings(clusterIPs), 'may specify no more than one IP for each IP family'));
    }
  }
  const families: unknown[] = Array.isArray(spec.ipFamilies) ? spec.ipFamilies : [];
  if (!isHeadless(spec) && clusterIPs.length > 0 && families.length > 0) {
    clusterIPs.forEach((ip, i) => {
      if (i > families.length - 1) return;
      const v6 = isIPv6String(String(ip));
      if (families[i] === 'IPv4' && v6) errs.push(invalidValue(`spec.clusterIPs[${i}]`, ip, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
      if (families[i] === 'IPv6' && !v6) errs.push(invalidValue(`spec.clusterIPs[${i}]`, ip, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
    });
  }
  return errs;
}

function validateClientIPAffinityConfig(config: Obj | undefined): FieldError[] {
  const p = 'spec.sessionAffinityConfig';
  const why = 'when session affinity type is ClientIP';
  if (!config) return [required(p, why)];
  if (!config.clientIP) return [required(`${p}.clientIP`, why)];
  const t = config.clientIP.timeoutSeconds;
  if (t === undefined || t === null) return [required(`${p}.clientIP.timeoutSeconds`, why)];
  if (!(t > 0 && t <= MAX_CLIENT_IP_AFFINITY_SECONDS)) {
    return [invalidValue(`${p}.clientIP.timeoutSeconds`, t, `must be greater than 0 and less than ${MAX_CLIENT_IP_AFFINITY_SECONDS}`)];
  }
  return [];
}

function validateExternalTrafficPolicy(spec: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const etp = spec.externalTrafficPolicy ?? '';
  if (!externallyAccessible(spec)) {
    if (etp !== '') errs.push(invalidValue('spec.externalTrafficPolicy', etp, 'may only be set for externally-accessible services'));
  } else if (etp === '') errs.push(required('spec.externalTrafficPolicy'));
  else if (etp !== 'Cluster' && etp !== 'Local') errs.push(notSupported('spec.externalTrafficPolicy', etp, ['Cluster', 'Local']));
  const hc = spec.healthCheckNodePort ?? 0;
  if (!needsHealthCheck(spec)) {
    if (hc !== 0) errs.push(invalidValue('spec.healthCheckNodePort', hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
  } else if (hc === 0) errs.push(required('spec.healthCheckNodePort'));
  else if (!(Number.isInteger(hc) && hc >= 1 && hc <= 65535)) errs.push(invalidValue('spec.healthCheckNodePort', hc, RANGE_1_65535));
  return errs;
}

function validateLoadBalancerClass(spec: Obj, old: Obj | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const lbc = spec.loadBalancerClass;
  if (old && old.type === 'LoadBalancer' && spec.type === 'LoadBalancer' && (old.loadBalancerClass ?? null) !== (lbc ?? null)) {
    errs.push(invalidValue('spec.loadBalancerClass', lbc ?? null, 'may not change once set'));
  }
  if (spec.type === 'LoadBalancer') {
    if (typeof lbc === 'string') errs.push(...qualifiedName('spec.loadBalancerClass', lbc));
  } else if (lbc !== undefined && lbc !== null) {
    errs.push(forbiddenField('spec.loadBalancerClass', "may only be used when `type` is 'LoadBalancer'"));
  }
  return errs;
}

/** ValidateService without the ObjectMeta part (the generic validation does that). */
export function validateServiceSpec(svc: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const spec: Obj = svc.spec ?? {};
  const ann: Obj = svc.metadata?.annotations ?? {};
  const hintsKey = 'service.kubernetes.io/topology-aware-hints';
  const modeKey = 'service.kubernetes.io/topology-mode';
  if (modeKey in ann && hintsKey in ann && ann[modeKey] !== ann[hintsKey]) {
    errs.push(invalidValue(`metadata.annotations[${modeKey}]`, ann[modeKey], `must match annotations[${hintsKey}] when both are specified`));
  }
  const ports: Obj[] = Array.isArray(spec.ports) ? spec.ports : [];
  const headless = isHeadless(spec);
  if (ports.length === 0 && !headless && spec.type !== 'ExternalName') errs.push(required('spec.ports'));
  switch (spec.type) {
    case 'LoadBalancer':
      if (headless) errs.push(invalidValue('spec.clusterIPs[0]', spec.clusterIPs[0], "may not be set to 'None' for LoadBalancer services"));
      break;
    case 'NodePort':
      if (headless) errs.push(invalidValue('spec.clusterIPs[0]', spec.clusterIPs[0], "may not be set to 'None' for NodePort services"));
      break;
    case 'ExternalName': {
      if (Array.isArray(spec.clusterIPs) && spec.clusterIPs.length > 0) errs.push(forbiddenField('spec.clusterIPs', 'may not be set for ExternalName services'));
      if (Array.isArray(spec.ipFamilies) && spec.ipFamilies.length > 0) errs.push(forbiddenField('spec.ipFamilies', 'may not be set for ExternalName services'));
      if (spec.ipFamilyPolicy !== undefined && spec.ipFamilyPolicy !== null) errs.push(forbiddenField('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
      const cname = String(spec.externalName ?? '').replace(/\.$/, '');
      if (cname.length > 0) errs.push(...dns1123Subdomain('spec.externalName', cname));
      else errs.push(required('spec.externalName'));
      break;
    }
  }
  const names = new Set<string>();
  ports.forEach((p, i) => errs.push(...validateServicePort(p ?? {}, ports.length > 1, names, `spec.ports[${i}]`)));
  if (spec.selector !== undefined && spec.selector !== null) errs.push(...validateLabelMap('spec.selector', spec.selector));
  if (!spec.sessionAffinity) errs.push(required('spec.sessionAffinity'));
  else if (spec.sessionAffinity !== 'ClientIP' && spec.sessionAffinity !== 'None') errs.push(notSupported('spec.sessionAffinity', spec.sessionAffinity, ['ClientIP', 'None']));
  if (spec.sessionAffinity === 'ClientIP') errs.push(...validateClientIPAffinityConfig(spec.sessionAffinityConfig));
  else if (spec.sessionAffinity === 'None' && spec.sessionAffinityConfig) {
    errs.push(forbiddenField('spec.sessionAffinityConfig', 'must not be set when session affinity is None'));
  }
  errs.push(...validateClusterIPsRelatedFields(spec));
  (Array.isArray(spec.externalIPs) ? spec.externalIPs : []).forEach((ip: unknown, i: number) => {
    const p = `spec.externalIPs[${i}]`;
    const e = validIP(p, ip);
    errs.push(...(e.length ? e : nonSpecialIP(p, String(ip))));
  });
  if (!spec.type) errs.push(required('spec.type'));
  else if (!SERVICE_TYPES.includes(spec.type)) errs.push(notSupported('spec.type', spec.type, SERVICE_TYPES));
  if (spec.type === 'ClusterIP') {
    ports.forEach((p, i) => {
      if ((p?.nodePort ?? 0) !== 0) errs.push(forbiddenField(`spec.ports[${i}].nodePort`, "may not be used when `type` is 'ClusterIP'"));
    });
  }
  const nodePorts = new Set<string>();
  ports.forEach((p, i) => {
    if (!p?.nodePort) return;
    const key = `${p.protocol}/${p.nodePort}`;
    if (nodePorts.has(key)) errs.push(duplicate(`spec.ports[${i}].nodePort`, p.nodePort));
    nodePorts.add(key);
  });
  const seenPorts = new Set<string>();
  ports.forEach((p, i) => {
    const key = `${p?.protocol ?? ''}/${p?.port ?? 0}`;
    if (seenPorts.has(key)) errs.push(duplicate(`spec.ports[${i}]`, goLiteral(`core.ServicePort{Name:"", Protocol:"${p?.protocol ?? ''}", AppProtocol:(*string)(nil), Port:${p?.port ?? 0}, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`)));
    seenPorts.add(key);
  });
  const ranges: unknown[] = Array.isArray(spec.loadBalancerSourceRanges) ? spec.loadBalancerSourceRanges : [];
  const rangesAnn = 'service.beta.kubernetes.io/load-balancer-source-ranges';
  const cidrMsg = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';
  if (ranges.length > 0) {
    // Upstream's path really is capitalised here.
    if (spec.type !== 'LoadBalancer') errs.push(forbiddenField('spec.LoadBalancerSourceRanges', "may only be used when `type` is 'LoadBalancer'"));
    ranges.forEach((r, i) => {
      const v = String(r).trim();
      if (!parseCIDR(v)) errs.push(invalidValue(`spec.LoadBalancerSourceRanges[${i}]`, v, cidrMsg));
    });
  } else if (rangesAnn in ann) {
    const p = `metadata.annotations[${rangesAnn}]`;
    if (spec.type !== 'LoadBalancer') errs.push(forbiddenField(p, "may only be used when `type` is 'LoadBalancer'"));
    const val = String(ann[rangesAnn]).trim();
    if (val !== '') for (const c of val.split(',')) if (!parseCIDR(c.trim())) errs.push(invalidValue(p, c.trim(), cidrMsg));
  }
  if (spec.allocateLoadBalancerNodePorts !== undefined && spec.allocateLoadBalancerNodePorts !== null && spec.type !== 'LoadBalancer') {
    errs.push(forbiddenField('spec.allocateLoadBalancerNodePorts', "may only be used when `type` is 'LoadBalancer'"));
  }
  // Upstream's path lacks the `spec.` here.
  if (spec.type === 'LoadBalancer' && (spec.allocateLoadBalancerNodePorts === undefined || spec.allocateLoadBalancerNodePorts === null)) errs.push(required('allocateLoadBalancerNodePorts'));
  errs.push(...validateLoadBalancerClass(spec, undefined));
  errs.push(...validateExternalTrafficPolicy(spec));
  const itp = spec.internalTrafficPolicy;
  if (itp === undefined || itp === null) {
    if (['NodePort', 'LoadBalancer', 'ClusterIP'].includes(spec.type)) errs.push(required('spec.internalTrafficPolicy'));
  } else if (itp !== 'Cluster' && itp !== 'Local') errs.push(notSupported('spec.internalTrafficPolicy', itp, ['Cluster', 'Local']));
  if (spec.trafficDistribution !== undefined && spec.trafficDistribution !== null && spec.trafficDistribution !== 'PreferClose') {
    errs.push(notSupported('spec.trafficDistribution', spec.trafficDistribution, ['PreferClose']));
  }
  return errs;
}

/** The update-only part of ValidateServiceUpdate (the rest is validateServiceSpec on the new object). */
export function validateServiceUpdate(spec: Obj, old: Obj): FieldError[] {
  return [...upgradeDowngradeClusterIPs(old, spec), ...upgradeDowngradeIPFamilies(old, spec), ...validateLoadBalancerClass(spec, old).filter((e) => e.detail === 'may not change once set'), ...externalTrafficFieldsUpdate(old, spec)];
}

function externalTrafficFieldsUpdate(old: Obj, spec: Obj): FieldError[] {
  if (needsHealthCheck(old) && needsHealthCheck(spec) && (spec.healthCheckNodePort ?? 0) !== (old.healthCheckNodePort ?? 0)) {
    return [forbiddenField('spec.healthCheckNodePort', 'field is immutable')];
  }
  return [];
}

const IMMUTABLE = 'may not change once set';

function upgradeDowngradeClusterIPs(old: Obj, spec: Obj): FieldError[] {
  const errs: FieldError[] = [];
  if (spec.type === 'ExternalName' || old.type === 'ExternalName') return errs;
  if (isHeadless(old) && isHeadless(spec)) return errs;
  const o: string[] = old.clusterIPs ?? [];
  const n: string[] = spec.clusterIPs ?? [];
  if (o.length === n.length) {
    o.forEach((ip, i) => {
      if (ip !== n[i]) errs.push(invalidValue(`spec.clusterIPs[${i}]`, goStrings(n), IMMUTABLE));
    });
  } else if (o.length > n.length) {
    if (n.length === 0) errs.push(invalidValue('spec.clusterIPs[0]', goStrings(spec.clusterIPs), 'primary clusterIP can not be unset'));
    if (o.length > 0 && n.length > 0 && n[0] !== o[0]) errs.push(invalidValue('spec.clusterIPs[0]', goStrings(n), IMMUTABLE));
    if (n.length === 1 && spec.ipFamilyPolicy !== 'SingleStack') {
      errs.push(invalidValue('spec.ipFamilyPolicy', spec.ipFamilyPolicy ?? null, "must be set to 'SingleStack' when releasing the secondary clusterIP"));
    }
  } else if (o.length > 0 && n[0] !== o[0]) {
    errs.push(invalidValue('spec.clusterIPs[0]', goStrings(n), IMMUTABLE));
  }
  return errs;
}

function upgradeDowngradeIPFamilies(old: Obj, spec: Obj): FieldError[] {
  const errs: FieldError[] = [];
  if (spec.type === 'ExternalName' || old.type === 'ExternalName') return errs;
  if (isHeadless(old) !== isHeadless(spec) || isHeadless(spec)) return errs;
  const o: string[] = old.ipFamilies ?? [];
  const n: string[] = spec.ipFamilies ?? [];
  if (o.length === n.length) {
    o.forEach((f, i) => {
      if (f !== n[i]) errs.push(invalidValue('spec.ipFamilies[0]', goFamilies(n), IMMUTABLE));
    });
  } else if (o.length > n.length) {
    if ((spec.clusterIPs ?? []).length === 0) errs.push(invalidValue('spec.ipFamilies[0]', goFamilies(spec.ipFamilies), 'primary ipFamily can not be unset'));
    if (n.length > 0 && n[0] !== o[0]) errs.push(invalidValue('spec.ipFamilies[0]', goStrings(spec.clusterIPs), IMMUTABLE));
    if (n.length === 1 && spec.ipFamilyPolicy !== 'SingleStack') {
      errs.push(invalidValue('spec.ipFamilyPolicy', spec.ipFamilyPolicy ?? null, "must be set to 'SingleStack' when releasing the secondary ipFamily"));
    }
  } else if (o.length > 0 && n.length > 0 && n[0] !== o[0]) {
    errs.push(invalidValue('spec.ipFamilies[0]', goStrings(spec.clusterIPs), IMMUTABLE));
  }
  return errs;
}
