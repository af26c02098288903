import { OrgRole } from '@grafana/data';
import { config } from '@grafana/runtime';
import { createContext } from 'react';

/** Reads the signed-in user's role in the current organisation (`Viewer`, `Editor`, `Admin`, `None` or ''). */
export type OrgRoleSource = () => string;

/**
 * Where the panel reads the user's org role: Grafana's boot data inside Grafana; the browser test page
 * and unit tests provide their own through this context.
 */
export const OrgRoleContext = createContext<OrgRoleSource>(() => config.bootData?.user?.orgRole ?? '');

/**
 * Whether a user with this org role may send feedback. The datasource's write routes require Editor
 * (plugin.json `reqRole`), so the proxy refuses anyone below; the panel does not offer what would fail.
 */
export function canSendFeedback(orgRole: string): boolean {
  return orgRole === OrgRole.Editor || orgRole === OrgRole.Admin;
}
