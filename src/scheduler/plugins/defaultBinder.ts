// DefaultBinder (Bind): writes the pods/binding subresource, which sets spec.nodeName.

import type { SchedulerAPI } from '../api.js';
import { errorStatus, type BindPlugin, type PluginFactory } from '../framework/types.js';

export const Name = 'DefaultBinder';

export function defaultBinder(api: SchedulerAPI): PluginFactory {
  return {
    name: Name,
    create() {
      const plugin: BindPlugin = {
        name: Name,
        async bind(_state, pod, nodeName, signal) {
          try {
            await api.bind(pod, nodeName, signal);
            return undefined;
          } catch (err) {
            return errorStatus(err);
          }
        },
      };
      return plugin;
    },
  };
}
